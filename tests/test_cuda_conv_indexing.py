"""Index math of the CUDA conv/linear kernels, checked on the CPU (no GPU needed).

tests/cuda_emu/gemm_emu.cpp runs the kernels' own index maps (csrc/cuda/kernels/gemm_problems.h: the
implicit-GEMM gathers, the stride-phase backward-data decomposition, the weight-gradient GEMM, the tile
plan and split-K chunks, the per-thread load slots and the SIMT / WMMA epilogue mappings) block by block
and thread by thread, built with AddressSanitizer + UBSan. Its results are compared with the float64
references; it aborts on any out-of-bounds gather, integer overflow, shared-memory slot staged twice or
never, or output stored twice or never.
"""
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

import importlib

from reference._util import assert_close

ref_conv = importlib.import_module("reference.conv")
ref_linear = importlib.import_module("reference.linear")  # (reference.linear the module, not the function)

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "tests/cuda_emu/gemm_emu.cpp", ROOT / "csrc/cuda/kernels/gemm_problems.h",
           ROOT / "csrc/cuda/kernels/conv_params.h"]
CXX = shutil.which(os.environ.get("CXX", "g++"))

pytestmark = pytest.mark.skipif(CXX is None, reason="no C++ compiler")


@pytest.fixture(scope="module")
def emu():
    """Path of the built emulator (cached by source hash)."""
    digest = hashlib.sha1(b"".join(p.read_bytes() for p in SOURCES)).hexdigest()[:16]
    exe = Path(tempfile.gettempdir()) / f"fastcnn-gemm-emu-{digest}"
    if not exe.exists():
        tmp = exe.with_suffix(f".{os.getpid()}.tmp")
        cmd = [CXX, "-std=c++17", "-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
               f"-I{ROOT / 'csrc'}", f"-I{ROOT / 'csrc/include'}", str(SOURCES[0]), "-o", str(tmp)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            if "sanitize" in res.stderr:
                pytest.skip("compiler lacks the sanitizers")
            pytest.fail(res.stderr)
        os.replace(tmp, exe)
    return exe


def run(emu, op, tensor, ints, inputs, out_shape):
    with tempfile.TemporaryDirectory() as d:
        has_bias = len(inputs) == 3 and inputs[2] is not None
        Path(d, "spec.txt").write_text(f"{op} {int(tensor)} {int(has_bias)} " + " ".join(str(int(i)) for i in ints))
        for i, a in enumerate(inputs):
            if a is not None:
                np.ascontiguousarray(a, np.float32).tofile(Path(d, f"in{i}.bin"))
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
        res = subprocess.run([str(emu), d], capture_output=True, text=True, env=env)
        assert res.returncode == 0, res.stderr[-3000:]
        out = np.fromfile(Path(d, "out.bin"), np.float32).reshape(out_shape)
    assert np.isfinite(out).all(), "an output element was never written"
    return out


def test_index_decomposition(emu):
    """The reduction-index decomposition, 32- and 64-bit paths, and its stepping."""
    res = subprocess.run([str(emu), "--selftest"], capture_output=True, text=True,
                         env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
    assert res.returncode == 0, res.stderr[-3000:]


def conv_params(x_shape, w_shape, stride, pads, dilation, groups):
    N, C, H, W = x_shape
    K, _, R, S = w_shape
    (sh, sw), (dh, dw) = stride, dilation
    pt, pb, pl, pr = pads
    P = (H + pt + pb - dh * (R - 1) - 1) // sh + 1
    Q = (W + pl + pr - dw * (S - 1) - 1) // sw + 1
    return (N, C, H, W, K, R, S, P, Q, sh, sw, pt, pl, dh, dw, groups), (N, K, P, Q)


# (x shape, w shape, stride, (top, bottom, left, right), dilation, groups)
CONV_CASES = [
    ((2, 3, 7, 9), (4, 3, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1),
    ((2, 4, 9, 8), (6, 2, 3, 3), (2, 2), (1, 0, 2, 1), (1, 1), 2),           # stride 2, asymmetric, groups
    ((1, 3, 23, 23), (5, 3, 11, 11), (4, 4), (0, 0, 0, 0), (1, 1), 1),       # AlexNet-like stride 4
    ((2, 4, 10, 11), (4, 4, 3, 3), (1, 1), (2, 2, 2, 2), (2, 2), 1),         # dilation 2
    ((1, 2, 11, 10), (3, 2, 3, 3), (2, 2), (2, 1, 1, 2), (2, 2), 1),         # stride and dilation share 2
    ((1, 2, 13, 12), (2, 2, 3, 2), (3, 3), (1, 1, 1, 1), (2, 2), 1),         # stride 3, dilation 2
    ((2, 6, 8, 8), (6, 1, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 6),           # depthwise
    ((1, 6, 9, 7), (12, 1, 3, 3), (2, 1), (1, 1, 0, 2), (1, 1), 6),          # depthwise x2, mixed stride
    ((2, 8, 7, 7), (16, 8, 1, 1), (2, 2), (0, 0, 0, 0), (1, 1), 1),          # 1x1 stride 2 (taps skip phases)
    ((2, 3, 1, 17), (4, 3, 1, 5), (1, 2), (0, 0, 2, 2), (1, 3), 1),          # conv1d (H = 1)
    ((2, 2, 5, 5), (3, 2, 5, 5), (1, 1), (0, 0, 0, 0), (1, 1), 1),           # kernel = input (P = Q = 1)
    ((3, 1, 28, 28), (6, 1, 5, 5), (1, 1), (2, 2, 2, 2), (1, 1), 1),         # LeNet c1 (split weight grad)
    ((2, 66, 16, 16), (2145, 2, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 33),    # 128x128 tiles
    ((1, 2, 130, 130), (40, 2, 1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1),      # 128x64 tiles
    ((1, 40, 6, 6), (40, 40, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1),        # few rows, deep reduction
    ((1, 2, 5, 6), (3, 2, 1, 1), (2, 2), (2, 3, 2, 1), (1, 1), 1),           # padding beyond the kernel
    ((2, 3, 12, 11), (4, 3, 3, 3), (2, 2), (2, 1, 3, 0), (3, 3), 1),         # dilation 3 > stride 2
    ((1, 2, 14, 13), (2, 2, 3, 3), (3, 3), (1, 1, 1, 1), (3, 3), 1),         # dilation = stride = 3
    ((1, 2, 20, 19), (3, 2, 3, 2), (4, 4), (3, 2, 1, 3), (6, 6), 1),         # stride 4, dilation 6
    ((2, 4, 6, 6), (4, 2, 2, 2), (3, 3), (5, 5, 4, 6), (1, 1), 2),           # pad > stride > kernel, groups
]


def _conv_id(case):
    x, w, s, p, d, g = case
    return f"x{x}-w{w}-s{s}-p{p}-d{d}-g{g}".replace(" ", "")


@pytest.mark.parametrize("tensor", [False, True], ids=["simt", "wmma"])
@pytest.mark.parametrize("case", CONV_CASES, ids=[_conv_id(c) for c in CONV_CASES])
def test_conv2d(emu, case, tensor):
    x_shape, w_shape, stride, pads, dilation, groups = case
    rng = np.random.default_rng(len(x_shape) + sum(w_shape))
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    b = rng.standard_normal(w_shape[0]).astype(np.float32)
    params, y_shape = conv_params(x_shape, w_shape, stride, pads, dilation, groups)
    dy = rng.standard_normal(y_shape).astype(np.float32)
    padding = ((pads[0], pads[1]), (pads[2], pads[3]))
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)

    y = run(emu, "conv_forward", tensor, params, (x, w, b), y_shape)
    assert_close(y, ref_conv.conv2d(x, w, b, **kw), what="forward")
    dx_want, dw_want, _ = ref_conv.conv2d_backward(dy, x, w, b, **kw)
    dx = run(emu, "conv_backward_data", tensor, params, (dy, w, None), x_shape)
    assert_close(dx, dx_want, what="backward data")
    dw = run(emu, "conv_backward_weight", tensor, params, (dy, x), w_shape)
    assert_close(dw, dw_want, what="backward weight")


# (x shape, w shape (C, K/g, R, S), stride, padding, output_padding, groups, dilation)
TRANSPOSE_CASES = [
    ((2, 4, 5, 6), (4, 3, 3, 3), (2, 2), (1, 1), (1, 1), 1, (1, 1)),
    ((1, 4, 4, 5), (4, 2, 3, 2), (3, 2), (1, 0), (2, 1), 2, (2, 1)),
    ((2, 3, 3, 3), (3, 2, 4, 4), (2, 2), (0, 1), (0, 0), 1, (1, 1)),
    ((1, 2, 4, 5), (2, 3, 3, 3), (2, 2), (1, 2), (2, 2), 1, (3, 3)),   # output_padding >= stride (< dilation)
    ((2, 4, 3, 4), (4, 1, 2, 3), (3, 1), (2, 0), (0, 0), 4, (1, 2)),   # depthwise, padding > kernel extent
]


@pytest.mark.parametrize("tensor", [False, True], ids=["simt", "wmma"])
@pytest.mark.parametrize("case", TRANSPOSE_CASES)
def test_conv_transpose2d(emu, case, tensor):
    """conv_transpose2d as the CUDA bindings run it: the adjoint launchers of the equivalent conv2d."""
    x_shape, w_shape, stride, padding, output_padding, groups, dilation = case
    rng = np.random.default_rng(7)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    N, C, H, W = x_shape
    _, Kg, R, S = w_shape
    b = rng.standard_normal(Kg * groups).astype(np.float32)
    kw = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation)
    y_want = ref_conv.conv_transpose2d(x, w, b, **kw)
    Ho, Wo = y_want.shape[2:]
    params = (N, Kg * groups, Ho, Wo, C, R, S, H, W, stride[0], stride[1], padding[0], padding[1],
              dilation[0], dilation[1], groups)
    y = run(emu, "conv_backward_data", tensor, params, (x, w, b), y_want.shape)
    assert_close(y, y_want, what="forward")
    dy = rng.standard_normal(y_want.shape).astype(np.float32)
    dx_want, dw_want, _ = ref_conv.conv_transpose2d_backward(dy, x, w, b, **kw)
    dx = run(emu, "conv_forward", tensor, params, (dy, w, None), x_shape)
    assert_close(dx, dx_want, what="backward data")
    dw = run(emu, "conv_backward_weight", tensor, params, (x, dy), w_shape)
    assert_close(dw, dw_want, what="backward weight")


@pytest.mark.parametrize("tensor", [False, True], ids=["simt", "wmma"])
@pytest.mark.parametrize("N,C,K", [(5, 7, 3), (130, 70, 40), (300, 1, 2), (3, 200, 150), (0, 5, 3), (4, 0, 3)])
def test_linear(emu, N, C, K, tensor):
    rng = np.random.default_rng(N + C + K)
    x = rng.standard_normal((N, C)).astype(np.float32)
    w = rng.standard_normal((K, C)).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32)
    dy = rng.standard_normal((N, K)).astype(np.float32)
    y = run(emu, "linear_forward", tensor, (N, C, K), (x, w, b), (N, K))
    assert_close(y, ref_linear.linear(x, w, b), what="forward")
    dx_want, dw_want, _ = ref_linear.linear_backward(dy, x, w, b)
    assert_close(run(emu, "linear_dx", tensor, (N, C, K), (dy, w, None), (N, C)), dx_want, what="dx")
    assert_close(run(emu, "linear_dw", tensor, (N, C, K), (dy, x), (K, C)), dw_want, what="dw")
