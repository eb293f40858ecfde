"""float64 references: conv.

Convolutions by explicit padding and strided windows, one einsum per kernel tap (never im2col + GEMM);
the transposed convolution by scatter-adding each tap into the full output; backward passes by their
own formulas (checked against finite differences in tests/test_conv.py).
"""
import math

import numpy as np

from ._util import f64

__all__ = ["conv_pads", "conv1d", "conv1d_backward", "conv2d", "conv2d_backward", "conv_transpose2d",
           "conv_transpose2d_backward"]


def _tup(v, n):
    return (int(v),) * n if np.isscalar(v) else tuple(int(e) for e in v)


def conv_pads(padding, sizes, spans, strides):
    """(before, after) per spatial dim. 'same' = ceil(size/stride) outputs, the odd extra after (TensorFlow)."""
    nd = len(sizes)
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0)] * nd
        if padding == "full":
            return [(k - 1, k - 1) for k in spans]
        assert padding == "same"
        pads = []
        for n, k, s in zip(sizes, spans, strides):
            total = max((math.ceil(n / s) - 1) * s + k - n, 0)
            pads.append((total // 2, total - total // 2))
        return pads
    if np.isscalar(padding):
        return [(int(padding), int(padding))] * nd
    if nd == 1 and len(padding) == 2 and np.isscalar(padding[0]):
        return [(int(padding[0]), int(padding[1]))]
    return [(int(e), int(e)) if np.isscalar(e) else (int(e[0]), int(e[1])) for e in padding]


def _setup2d(x, w, stride, padding, dilation):
    x, w = f64(x), f64(w)
    (sh, sw), (dh, dw) = _tup(stride, 2), _tup(dilation, 2)
    R, S = w.shape[2:]
    pads = conv_pads(padding, x.shape[2:], (dh * (R - 1) + 1, dw * (S - 1) + 1), (sh, sw))
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple(pads))
    P = (xp.shape[2] - dh * (R - 1) - 1) // sh + 1
    Q = (xp.shape[3] - dw * (S - 1) - 1) // sw + 1

    def window(a, r, s):  # the (P, Q) positions that kernel tap (r, s) reads, from a padded array
        return a[:, :, r * dh:r * dh + (P - 1) * sh + 1:sh, s * dw:s * dw + (Q - 1) * sw + 1:sw]
    return x, w, xp, pads, P, Q, window


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    x, w, xp, pads, P, Q, window = _setup2d(x, w, stride, padding, dilation)
    K, Cg, R, S = w.shape
    Kg = K // groups
    y = np.zeros((x.shape[0], K, P, Q))
    for g in range(groups):
        ks, cs = slice(g * Kg, (g + 1) * Kg), slice(g * Cg, (g + 1) * Cg)
        for r in range(R):
            for s in range(S):
                y[:, ks] += np.einsum("ncpq,kc->nkpq", window(xp[:, cs], r, s), w[ks, :, r, s])
    if b is not None:
        y += f64(b)[None, :, None, None]
    return y


def conv2d_backward(dy, x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    x, w, xp, pads, P, Q, window = _setup2d(x, w, stride, padding, dilation)
    dy = f64(dy)
    K, Cg, R, S = w.shape
    Kg = K // groups
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for g in range(groups):
        ks, cs = slice(g * Kg, (g + 1) * Kg), slice(g * Cg, (g + 1) * Cg)
        for r in range(R):
            for s in range(S):
                dw[ks, :, r, s] = np.einsum("nkpq,ncpq->kc", dy[:, ks], window(xp[:, cs], r, s))
                window(dxp[:, cs], r, s)[...] += np.einsum("nkpq,kc->ncpq", dy[:, ks], w[ks, :, r, s])
    (pt, _), (pl, _) = pads
    dx = dxp[:, :, pt:pt + x.shape[2], pl:pl + x.shape[3]]
    return dx, dw, (None if b is None else dy.sum(axis=(0, 2, 3)))


def _setup1d(x, w, stride, padding, dilation):
    x, w = f64(x), f64(w)
    (st,), (d,) = _tup(stride, 1), _tup(dilation, 1)
    R = w.shape[2]
    pads = conv_pads(padding, x.shape[2:], (d * (R - 1) + 1,), (st,))
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple(pads))
    L = (xp.shape[2] - d * (R - 1) - 1) // st + 1

    def window(a, r):
        return a[:, :, r * d:r * d + (L - 1) * st + 1:st]
    return x, w, xp, pads, L, window


def conv1d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    x, w, xp, pads, L, window = _setup1d(x, w, stride, padding, dilation)
    K, Cg, R = w.shape
    Kg = K // groups
    y = np.zeros((x.shape[0], K, L))
    for g in range(groups):
        ks, cs = slice(g * Kg, (g + 1) * Kg), slice(g * Cg, (g + 1) * Cg)
        for r in range(R):
            y[:, ks] += np.einsum("ncl,kc->nkl", window(xp[:, cs], r), w[ks, :, r])
    if b is not None:
        y += f64(b)[None, :, None]
    return y


def conv1d_backward(dy, x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    x, w, xp, pads, L, window = _setup1d(x, w, stride, padding, dilation)
    dy = f64(dy)
    K, Cg, R = w.shape
    Kg = K // groups
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for g in range(groups):
        ks, cs = slice(g * Kg, (g + 1) * Kg), slice(g * Cg, (g + 1) * Cg)
        for r in range(R):
            dw[ks, :, r] = np.einsum("nkl,ncl->kc", dy[:, ks], window(xp[:, cs], r))
            window(dxp[:, cs], r)[...] += np.einsum("nkl,kc->ncl", dy[:, ks], w[ks, :, r])
    left = pads[0][0]
    return dxp[:, :, left:left + x.shape[2]], dw, (None if b is None else dy.sum(axis=(0, 2)))


def _setup_t(x, w, stride, padding, output_padding, dilation):
    x, w = f64(x), f64(w)
    (sh, sw), (ph, pw) = _tup(stride, 2), _tup(padding, 2)
    (oh, ow), (dh, dw) = _tup(output_padding, 2), _tup(dilation, 2)
    H, W = x.shape[2:]
    R, S = w.shape[2:]
    # The full (uncropped) output: every tap of every input position lands inside it.
    Hf, Wf = (H - 1) * sh + dh * (R - 1) + 1 + oh, (W - 1) * sw + dw * (S - 1) + 1 + ow
    Ho, Wo = Hf - 2 * ph, Wf - 2 * pw

    def window(a, r, s):  # the full-output positions that input (H, W) sends tap (r, s) to
        return a[:, :, r * dh:r * dh + (H - 1) * sh + 1:sh, s * dw:s * dw + (W - 1) * sw + 1:sw]
    return x, w, (Hf, Wf), (ph, pw), (Ho, Wo), window


def conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    x, w, (Hf, Wf), (ph, pw), (Ho, Wo), window = _setup_t(x, w, stride, padding, output_padding, dilation)
    C, Kg, R, S = w.shape
    Cg = C // groups
    full = np.zeros((x.shape[0], Kg * groups, Hf, Wf))
    for g in range(groups):
        ks, cs = slice(g * Kg, (g + 1) * Kg), slice(g * Cg, (g + 1) * Cg)
        for r in range(R):
            for s in range(S):
                window(full[:, ks], r, s)[...] += np.einsum("nchw,ck->nkhw", x[:, cs], w[cs, :, r, s])
    y = full[:, :, ph:ph + Ho, pw:pw + Wo]
    if b is not None:
        y = y + f64(b)[None, :, None, None]
    return y


def conv_transpose2d_backward(dy, x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    x, w, (Hf, Wf), (ph, pw), (Ho, Wo), window = _setup_t(x, w, stride, padding, output_padding, dilation)
    dy = f64(dy)
    C, Kg, R, S = w.shape
    Cg = C // groups
    full = np.zeros((x.shape[0], Kg * groups, Hf, Wf))
    full[:, :, ph:ph + Ho, pw:pw + Wo] = dy
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    for g in range(groups):
        ks, cs = slice(g * Kg, (g + 1) * Kg), slice(g * Cg, (g + 1) * Cg)
        for r in range(R):
            for s in range(S):
                tap = window(full[:, ks], r, s)
                dx[:, cs] += np.einsum("nkhw,ck->nchw", tap, w[cs, :, r, s])
                dw[cs, :, r, s] = np.einsum("nchw,nkhw->ck", x[:, cs], tap)
    return dx, dw, (None if b is None else dy.sum(axis=(0, 2, 3)))
