"""Softmax cross-entropy, as torch.nn.functional.cross_entropy with reduction='mean', fused and
stable (each row's log-sum-exp in double).

On the device, logits are a float32 device array and target an int64 (N,) or float32 (N, classes)
device array; the values of target are not checked there (that would wait for the GPU).
"""
from __future__ import annotations

import numpy as np

from .. import _C
from ._validate import array, check_shape, error, is_device, kernels, outputs, shape_str

__all__ = ["cross_entropy", "cross_entropy_backward"]


def _device_target(fn, target, N, K):
    if target.ndim == 1 and target.dtype == np.int64:
        return target
    if target.ndim == 2 and target.dtype == np.float32:
        check_shape(target, fn, "target", (N, K), "probabilities, the shape of logits")
        return target
    raise error(fn, "target", f"a device array of dtype {target.dtype} and shape {shape_str(target.shape)}",
                "int64 class ids (N,) or float32 probabilities (N, classes)")


def _args(fn, logits, target):
    logits = array(logits, fn, "logits", 2, "(N, classes)")
    N, K = logits.shape
    if is_device(target):
        target = _device_target(fn, target, N, K)
        if target.ndim == 1:
            check_shape(target, fn, "target", (N,), "one class id per row of logits")
        return logits, target
    if not isinstance(target, np.ndarray):
        try:
            target = np.asarray(target)
        except Exception as e:
            raise TypeError(f"{fn}: argument 'target' got {type(target).__name__} that is not an array "
                            f"({e}), needed class ids or probabilities") from None
    if target.ndim == 1:
        if target.dtype.kind not in "iu":
            raise TypeError(f"{fn}: argument 'target' got dtype {target.dtype} with shape "
                            f"{shape_str(target.shape)}, needed integer class ids (N,) "
                            f"or float probabilities (N, classes)")
        check_shape(target, fn, "target", (N,), "one class id per row of logits")
        if target.dtype == np.uint64 and target.size and int(target.max()) > np.iinfo(np.int64).max:
            raise error(fn, "target", f"class id {int(target.max())}", f"ids in [0, {K})")
        target = np.ascontiguousarray(target, dtype=np.int64)
    elif target.ndim == 2:
        target = array(target, fn, "target", 2)
        check_shape(target, fn, "target", (N, K), "probabilities, the shape of logits")
        if target.size and not (target.min() >= 0.0 and np.isfinite(target.max())):  # NaN fails both
            bad = target[~(np.isfinite(target) & (target >= 0))].flat[0]
            raise error(fn, "target", f"a probability of {bad}", "finite, non-negative probabilities")
    else:
        raise error(fn, "target", f"shape {shape_str(target.shape)} ({target.ndim}-D)",
                    "class ids (N,) or probabilities (N, classes)")
    return logits, target


def cross_entropy(logits, target) -> float:
    """Mean over the N rows of -sum_k t_k log softmax(logits)_k, as a Python float (nan for N = 0).

    target: integer class ids (N,) in [0, classes), or probabilities / one-hot rows (N, classes).
    """
    fn = "cross_entropy"
    K = kernels(fn, ("logits", logits), ("target", target))
    logits, target = _args(fn, logits, target)
    loss = K.cross_entropy_forward(logits, target)
    return float(loss) if K is _C else float(loss.numpy())  # the CUDA kernel leaves it on the device


def cross_entropy_sum_into(logits, target, total, weight=1.0) -> None:
    """total[0] += weight * (the sum over the N rows of the loss), on the logits' side, without
    reading anything back: training on the device sums its epoch loss with it. total is a float32
    (1,) array (a device array for device logits)."""
    fn = "cross_entropy_sum_into"
    K = kernels(fn, ("logits", logits), ("target", target), ("total", total))
    logits, target = _args(fn, logits, target)
    if K is _C:
        check_shape(total, fn, "total", (1,), "one float32 accumulator")
        if len(logits):  # no rows add nothing, as on the device (the mean of none is NaN)
            total[0] += np.float32(weight * len(logits) * _C.cross_entropy_forward(logits, target))
        return
    if total.dtype != np.float32 or total.shape != (1,):
        raise error(fn, "total", f"a device array of dtype {total.dtype} and shape {shape_str(total.shape)}",
                    "a float32 (1,) accumulator")
    K.cross_entropy_sum_into(logits, target, total, float(weight))


def cross_entropy_backward(logits, target, *, out=None):
    """Gradient (dlogits,) of the mean loss: (softmax(logits) * sum(t) - t) / N per row, which is
    (softmax - t) / N for class ids and for probability rows summing to 1. out: None or (dlogits,)."""
    fn = "cross_entropy_backward"
    K = kernels(fn, ("logits", logits), ("target", target))
    logits, target = _args(fn, logits, target)
    dlogits, = outputs(out, (logits.shape,), fn, (("logits", logits), ("target", target)))
    K.cross_entropy_backward(logits, target, dlogits)
    return (dlogits,)
