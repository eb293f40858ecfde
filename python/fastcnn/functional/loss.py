"""Softmax cross-entropy, as torch.nn.functional.cross_entropy with reduction='mean', fused and
stable (each row's log-sum-exp in double)."""
from __future__ import annotations

import numpy as np

from .. import _C
from ._validate import array, check_shape, error, new_array, shape_str

__all__ = ["cross_entropy", "cross_entropy_backward"]


def _args(fn, logits, target):
    logits = array(logits, fn, "logits", 2, "(N, classes)")
    N, K = logits.shape
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
    logits, target = _args(fn, logits, target)
    return float(_C.cross_entropy_forward(logits, target))


def cross_entropy_backward(logits, target):
    """Gradient (dlogits,) of the mean loss: (softmax(logits) * sum(t) - t) / N per row, which is
    (softmax - t) / N for class ids and for probability rows summing to 1."""
    fn = "cross_entropy_backward"
    logits, target = _args(fn, logits, target)
    dlogits = new_array(logits.shape, fn)
    _C.cross_entropy_backward(logits, target, dlogits)
    return (dlogits,)
