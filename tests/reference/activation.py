"""float64 references: activations, by their formulas (softmax gradients through the explicit Jacobian)."""
import numpy as np

__all__ = [
    "relu", "relu_backward", "leaky_relu", "leaky_relu_backward", "prelu", "prelu_backward",
    "rrelu", "rrelu_with_slope", "rrelu_backward", "elu", "elu_backward", "sigmoid", "sigmoid_backward",
    "tanh", "tanh_backward", "softmax", "softmax_backward", "log_softmax", "log_softmax_backward",
    "dropout_with_mask", "dropout_backward",
]


def _f(a):
    return np.asarray(a, np.float64)


def relu(x):
    return np.maximum(_f(x), 0.0)  # NaN propagates


def relu_backward(dy, x):
    return (np.where(_f(x) > 0, _f(dy), 0.0),)


def leaky_relu(x, alpha=0.01):
    x = _f(x)
    return np.where(x > 0, x, alpha * x)


def leaky_relu_backward(dy, x, alpha=0.01):
    return (np.where(_f(x) > 0, _f(dy), alpha * _f(dy)),)


def _channel_alpha(alpha, ndim):
    alpha = _f(alpha)
    return alpha.reshape((1, alpha.size) + (1,) * (ndim - 2))


def prelu(x, alpha):
    x = _f(x)
    return np.where(x > 0, x, _channel_alpha(alpha, x.ndim) * x)


def prelu_backward(dy, x, alpha):
    x, dy = _f(x), _f(dy)
    a = _channel_alpha(alpha, x.ndim)
    dx = np.where(x > 0, dy, a * dy)
    contrib = np.where(x > 0, 0.0, x * dy)
    axes = tuple(i for i in range(x.ndim) if i != 1)
    dalpha = contrib.sum(axis=axes) if np.size(alpha) == x.shape[1] else contrib.sum()
    return dx, np.reshape(dalpha, np.shape(alpha))


def rrelu(x, lower=1.0 / 8, upper=1.0 / 3):
    """Evaluation mode: a leaky relu with slope (lower + upper) / 2."""
    x = _f(x)
    return np.where(x >= 0, x, 0.5 * (lower + upper) * x)


def rrelu_with_slope(x, slope):
    return _f(x) * _f(slope)


def rrelu_backward(dy, slope):
    return (_f(dy) * _f(slope),)


def elu(x, alpha=1.0):
    x = _f(x)
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def elu_backward(dy, x, alpha=1.0):
    x, dy = _f(x), _f(dy)
    return (np.where(x > 0, dy, dy * alpha * np.exp(np.minimum(x, 0))),)


def sigmoid(x):
    with np.errstate(over="ignore"):  # exp(-x) = inf for very negative x gives the right 0
        return 1.0 / (1.0 + np.exp(-_f(x)))


def sigmoid_backward(dy, x):  # s(x) * (1 - s(x)), written without the cancellation in 1 - s
    return (_f(dy) * sigmoid(x) * sigmoid(-_f(x)),)


def tanh(x):
    return np.tanh(_f(x))


def tanh_backward(dy, x):
    return (_f(dy) * (1 - np.tanh(_f(x)) ** 2),)


def softmax(x, axis=1):
    x = _f(x)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _through_jacobian(dy, jac_fn, x, axis):
    """dx_j = sum_i dy_i dy_i/dx_j along axis, with the Jacobian jac[..., i, j] built explicitly."""
    x = np.moveaxis(_f(x), axis, -1)
    dy = np.moveaxis(_f(dy), axis, -1)
    jac = jac_fn(x)
    return np.moveaxis(np.einsum("...ij,...i->...j", jac, dy), -1, axis)


def softmax_backward(dy, x, axis=1):
    def jac(x):  # d y_i / d x_j = y_i (delta_ij - y_j)
        d = x.shape[-1]
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        s = e.sum(axis=-1, keepdims=True)
        y = e / s
        jac = -y[..., :, None] * y[..., None, :]
        # 1 - y_i as the sum of the other y_j, exact even when y_i rounds to 1
        rest = (e[..., None, :] * (1 - np.eye(d))).sum(axis=-1) / s
        jac[..., np.arange(d), np.arange(d)] = y * rest
        return jac
    return (_through_jacobian(dy, jac, x, axis),)


def log_softmax(x, axis=1):
    x = _f(x)
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def log_softmax_backward(dy, x, axis=1):
    def jac(x):  # d y_i / d x_j = delta_ij - softmax_j
        return np.eye(x.shape[-1]) - softmax(x, axis=-1)[..., None, :]
    return (_through_jacobian(dy, jac, x, axis),)


def dropout_with_mask(x, mask, p):
    return _f(x) * (_f(mask) != 0) / (1 - p)


def dropout_backward(dy, mask, p):
    return (_f(dy) * (_f(mask) != 0) / (1 - p),)
