"""float64 references: optimizer steps, written as torch.optim's update rules (in place)."""
import numpy as np

__all__ = ["sgd_step", "adam_step", "rmsprop_step"]


def sgd_step(param, grad, velocity, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    g = grad + weight_decay * param
    if momentum != 0:
        velocity[...] = momentum * velocity + g
        g = g + momentum * velocity if nesterov else velocity.copy()
    param -= lr * g


def adam_step(param, grad, m, v, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
              decoupled=False):
    g = np.array(grad, np.float64)
    if decoupled:
        param *= 1 - lr * weight_decay
    else:
        g += weight_decay * param
    m[...] = beta1 * m + (1 - beta1) * g
    v[...] = beta2 * v + (1 - beta2) * g * g
    bc1, bc2 = 1 - beta1 ** step, 1 - beta2 ** step
    param -= lr / bc1 * m / (np.sqrt(v) / np.sqrt(bc2) + eps)


def rmsprop_step(param, grad, square_avg, lr=1e-2, alpha=0.99, eps=1e-8):
    square_avg[...] = alpha * square_avg + (1 - alpha) * grad * grad
    param -= lr * grad / (np.sqrt(square_avg) + eps)
