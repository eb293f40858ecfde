"""float64 references: batch norm (textbook formulas over explicit axes) and local response norm
(explicit channel windows)."""
import numpy as np

__all__ = ["batch_norm", "batch_norm_backward", "local_response_norm", "local_response_norm_backward"]


def _channel_view(a, ndim):
    """A (C,) array shaped to broadcast against x (N, C, ...)."""
    return np.asarray(a, np.float64).reshape((1, -1) + (1,) * (ndim - 2))


def batch_norm(x, gamma, beta, running_mean, running_var, training=False, momentum=0.1, eps=1e-5):
    """y; in training, running_mean / running_var (float64 arrays or None) are updated in place."""
    x = np.asarray(x, np.float64)
    axes = (0,) + tuple(range(2, x.ndim))
    if training:
        mean = x.mean(axis=axes)
        var = ((x - _channel_view(mean, x.ndim)) ** 2).mean(axis=axes)
        count = x.size // x.shape[1]
        if running_mean is not None:
            running_mean[...] = (1 - momentum) * running_mean + momentum * mean
        if running_var is not None:
            running_var[...] = (1 - momentum) * running_var + momentum * var * count / (count - 1)
    else:
        mean, var = np.asarray(running_mean, np.float64), np.asarray(running_var, np.float64)
    y = (x - _channel_view(mean, x.ndim)) / np.sqrt(_channel_view(var, x.ndim) + eps)
    if gamma is not None:
        y = y * _channel_view(gamma, x.ndim)
    if beta is not None:
        y = y + _channel_view(beta, x.ndim)
    return y


def batch_norm_backward(dy, x, gamma, beta, running_mean, running_var, training=False, momentum=0.1,
                        eps=1e-5):
    """(dx, dgamma, dbeta) from the closed-form batch norm gradient."""
    dy, x = np.asarray(dy, np.float64), np.asarray(x, np.float64)
    axes = (0,) + tuple(range(2, x.ndim))
    g = np.ones(x.shape[1]) if gamma is None else np.asarray(gamma, np.float64)
    if training:
        mean = x.mean(axis=axes)
        var = ((x - _channel_view(mean, x.ndim)) ** 2).mean(axis=axes)
    else:
        mean, var = np.asarray(running_mean, np.float64), np.asarray(running_var, np.float64)
    invstd = 1 / np.sqrt(var + eps)
    xhat = (x - _channel_view(mean, x.ndim)) * _channel_view(invstd, x.ndim)
    dbeta = dy.sum(axis=axes)
    dgamma = (dy * xhat).sum(axis=axes)
    if training:
        m = x.size // x.shape[1]
        dx = _channel_view(g * invstd, x.ndim) * (
            dy - _channel_view(dbeta / m, x.ndim) - xhat * _channel_view(dgamma / m, x.ndim))
    else:
        dx = dy * _channel_view(g * invstd, x.ndim)
    return dx, None if gamma is None else dgamma, None if beta is None else dbeta


def _lrn_base(x, size, alpha, k):
    """d[:, c] = k + alpha/size * sum of x[:, c']^2 over the window of c."""
    C = x.shape[1]
    d = np.empty_like(x)
    for c in range(C):
        lo, hi = max(0, c - size // 2), min(C - 1, c + (size - 1) // 2)
        d[:, c] = k + alpha / size * (x[:, lo:hi + 1] ** 2).sum(axis=1)
    return d


def local_response_norm(x, size=5, alpha=1e-4, beta=0.75, k=2.0):
    x = np.asarray(x, np.float64)
    return x / _lrn_base(x, size, alpha, k) ** beta


def local_response_norm_backward(dy, x, size=5, alpha=1e-4, beta=0.75, k=2.0):
    """dx_j = dy_j d_j^-beta - 2 alpha beta / size * x_j * sum over {c : j in window(c)} of
    dy_c x_c d_c^(-beta-1)."""
    dy, x = np.asarray(dy, np.float64), np.asarray(x, np.float64)
    C = x.shape[1]
    d = _lrn_base(x, size, alpha, k)
    t = dy * x * d ** (-beta - 1)
    dx = dy * d ** -beta
    for j in range(C):
        users = [c for c in range(C) if c - size // 2 <= j <= c + (size - 1) // 2]
        dx[:, j] -= 2 * alpha * beta / size * x[:, j] * t[:, users].sum(axis=1)
    return (dx,)
