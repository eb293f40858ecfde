"""float64 references: pooling, by explicit loops over the output windows."""
import numpy as np

__all__ = [
    "pool_pads", "pool_output_size", "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
    "max_pool1d", "max_pool1d_backward", "avg_pool1d", "avg_pool1d_backward",
    "global_avg_pool2d", "global_avg_pool2d_backward",
]


def _pair(v, n):
    return (v,) * n if isinstance(v, int) else tuple(v)


def pool_pads(padding, sizes, k, s):
    """(before, after) per dimension for an int / ints / pairs / 'valid' / 'same'."""
    n = len(sizes)
    if padding == "valid":
        return [(0, 0)] * n
    if padding == "same":  # ceil(size / stride) outputs, the odd extra pad at the end
        pads = []
        for size, kk, ss in zip(sizes, k, s):
            total = max((-(-size // ss) - 1) * ss + kk - size, 0)
            pads.append((total // 2, total - total // 2))
        return pads
    if isinstance(padding, int):
        return [(padding, padding)] * n
    if n == 1 and len(padding) == 2 and all(isinstance(p, int) for p in padding):
        return [tuple(padding)]
    return [(p, p) if isinstance(p, int) else tuple(p) for p in padding]


def pool_output_size(size, k, s, before, after, ceil_mode):
    """PyTorch's pooling_output_shape_pad_lr."""
    out = (size + before + after - k + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + before:
        out -= 1
    return out


def _windows(shape, kernel_size, stride, padding, ceil_mode):
    """Yields (oh, ow, rows, cols, padded_count) for each output: rows/cols are the window clipped
    to the input; padded_count is the window clipped to the padded input (PyTorch's divisor)."""
    H, W = shape[2:]
    k = _pair(kernel_size, 2)
    s = k if stride is None else _pair(stride, 2)
    (pt, pb), (pl, pr) = pool_pads(padding, (H, W), k, s)
    P = pool_output_size(H, k[0], s[0], pt, pb, ceil_mode)
    Q = pool_output_size(W, k[1], s[1], pl, pr, ceil_mode)
    wins = []
    for oh in range(P):
        hs = oh * s[0] - pt
        he = min(hs + k[0], H + pb)
        for ow in range(Q):
            ws = ow * s[1] - pl
            we = min(ws + k[1], W + pr)
            rows = slice(max(hs, 0), min(he, H))
            cols = slice(max(ws, 0), min(we, W))
            wins.append((oh, ow, rows, cols, (he - hs) * (we - ws)))
    return (P, Q), wins


def max_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False):
    x = np.asarray(x, np.float64)
    (P, Q), wins = _windows(x.shape, kernel_size, stride, padding, ceil_mode)
    y = np.empty(x.shape[:2] + (P, Q))
    for oh, ow, rows, cols, _ in wins:
        y[:, :, oh, ow] = x[:, :, rows, cols].max(axis=(2, 3))  # NaN propagates
    return y


def max_pool2d_backward(dy, x, kernel_size, stride=None, padding=0, ceil_mode=False):
    """Each window's gradient goes to its first maximum in row-major order."""
    x = np.asarray(x, np.float64)
    dy = np.asarray(dy, np.float64)
    _, wins = _windows(x.shape, kernel_size, stride, padding, ceil_mode)
    dx = np.zeros_like(x)
    for oh, ow, rows, cols, _ in wins:
        win = x[:, :, rows, cols]
        width = win.shape[3]
        flat = win.reshape(x.shape[0], x.shape[1], -1).argmax(axis=2)
        for n in range(x.shape[0]):
            for c in range(x.shape[1]):
                i, j = divmod(int(flat[n, c]), width)
                dx[n, c, rows.start + i, cols.start + j] += dy[n, c, oh, ow]
    return (dx,)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    x = np.asarray(x, np.float64)
    (P, Q), wins = _windows(x.shape, kernel_size, stride, padding, ceil_mode)
    y = np.empty(x.shape[:2] + (P, Q))
    for oh, ow, rows, cols, padded in wins:
        win = x[:, :, rows, cols]
        count = padded if count_include_pad else win.shape[2] * win.shape[3]
        y[:, :, oh, ow] = win.sum(axis=(2, 3)) / count
    return y


def avg_pool2d_backward(dy, x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    x = np.asarray(x, np.float64)
    dy = np.asarray(dy, np.float64)
    _, wins = _windows(x.shape, kernel_size, stride, padding, ceil_mode)
    dx = np.zeros_like(x)
    for oh, ow, rows, cols, padded in wins:
        count = padded if count_include_pad else (rows.stop - rows.start) * (cols.stop - cols.start)
        dx[:, :, rows, cols] += dy[:, :, oh, ow][:, :, None, None] / count
    return (dx,)


def _pad1d(padding):
    if isinstance(padding, str):
        return padding
    if isinstance(padding, int):
        return (0, padding)
    if len(padding) == 1:
        v = padding[0]
        pair = (v, v) if isinstance(v, int) else tuple(v)
    else:
        pair = tuple(padding)
    return ((0, 0), pair)


def _as2d(a):
    a = np.asarray(a, np.float64)
    return a.reshape(a.shape[0], a.shape[1], 1, a.shape[2])


def _pool1d_args(kernel_size, stride, padding):
    k = kernel_size if isinstance(kernel_size, int) else kernel_size[0]
    s = None if stride is None else (stride if isinstance(stride, int) else stride[0])
    if padding == "same":
        return (1, k), (1, k if s is None else s), "same"
    return (1, k), None if s is None else (1, s), _pad1d(padding)


def max_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False):
    k, s, p = _pool1d_args(kernel_size, stride, padding)
    return max_pool2d(_as2d(x), k, s, p, ceil_mode)[:, :, 0, :]


def max_pool1d_backward(dy, x, kernel_size, stride=None, padding=0, ceil_mode=False):
    k, s, p = _pool1d_args(kernel_size, stride, padding)
    return (max_pool2d_backward(_as2d(dy), _as2d(x), k, s, p, ceil_mode)[0][:, :, 0, :],)


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    k, s, p = _pool1d_args(kernel_size, stride, padding)
    return avg_pool2d(_as2d(x), k, s, p, ceil_mode, count_include_pad)[:, :, 0, :]


def avg_pool1d_backward(dy, x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    k, s, p = _pool1d_args(kernel_size, stride, padding)
    return (avg_pool2d_backward(_as2d(dy), _as2d(x), k, s, p, ceil_mode, count_include_pad)[0][:, :, 0, :],)


def global_avg_pool2d(x):
    return np.asarray(x, np.float64).mean(axis=(2, 3))


def global_avg_pool2d_backward(dy, x):
    x = np.asarray(x, np.float64)
    dy = np.asarray(dy, np.float64)
    return (np.broadcast_to(dy[:, :, None, None] / (x.shape[2] * x.shape[3]), x.shape).copy(),)
