"""Op-specific edge cases of the CUDA pool/act/norm/loss/optim kernels, run against the CPU kernels
on the same inputs: ties and NaN in max pooling, softmax with -inf, batch norm with one sample or
one value per plane, the dropout mask and rrelu slopes of a seed (the CPU's, bit for bit),
optimizer steps, misaligned (non-16-byte) views, and run-to-run determinism of the reductions.
The generic per-op coverage is tests/test_cuda_functional.py. Skipped without a CUDA device."""
from __future__ import annotations

import numpy as np
import pytest

import fastcnn
import fastcnn.functional as F
from reference import assert_close

try:
    import fastcnn.cuda as fcuda

    HAVE_CUDA = bool(fcuda.is_available())
except Exception:  # fastcnn.cuda not built or not importable here
    fcuda, HAVE_CUDA = None, False

pytestmark = pytest.mark.skipif(not HAVE_CUDA, reason="no CUDA device (or fastcnn.cuda unavailable)")


def dev(a):
    return fcuda.to_device(np.ascontiguousarray(a))


def host(r):
    """numpy copies of a result: a DeviceArray, a tuple of them, None, or a Python scalar."""
    if isinstance(r, tuple):
        return tuple(host(v) for v in r)
    if r is None or isinstance(r, (float, int)):
        return r
    return r.numpy()


def both(fn, *arrays, **kw):
    """fn on numpy arrays (CPU) and on their device copies (CUDA), both results as numpy."""
    cpu = fn(*arrays, **kw)
    gpu = host(fn(*[dev(a) if isinstance(a, np.ndarray) else a for a in arrays], **kw))
    return host(cpu) if not isinstance(cpu, np.ndarray) else cpu, gpu


def scalar(v):
    return float(v) if isinstance(v, (float, int)) else float(np.asarray(host(v)).ravel()[0])


def rng(seed=0):
    return np.random.default_rng(seed)


def f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


# ---- pooling ---------------------------------------------------------------------------------------

POOL_CASES = [
    ((4, 3, 28, 28), (2, 2), None, 0, False),
    ((2, 4, 13, 13), (3, 3), (2, 2), 0, False),
    ((2, 4, 14, 15), (3, 3), (1, 1), 1, False),
    ((1, 2, 7, 7), (3, 3), (2, 2), 1, True),
    ((2, 2, 9, 6), (2, 3), (2, 1), ((1, 0), (0, 1)), True),
]


@pytest.mark.parametrize("shape,k,s,padding,ceil_mode", POOL_CASES)
def test_max_pool_ties_equal_cpu(shape, k, s, padding, ceil_mode):
    x = f32(rng(1).integers(0, 3, shape))  # many ties: the first maximum in scan order takes dy
    cpu, gpu = both(F.max_pool2d, x, k, s, padding, ceil_mode)
    np.testing.assert_array_equal(gpu, cpu)
    dy = f32(rng(2).standard_normal(cpu.shape))
    cpu, gpu = both(F.max_pool2d_backward, dy, x, k, s, padding, ceil_mode)
    np.testing.assert_array_equal(gpu[0], cpu[0])  # gather in the CPU's scatter order: bit for bit


@pytest.mark.parametrize("shape,k,s,padding,ceil_mode", POOL_CASES)
def test_max_pool_nan_and_inf(shape, k, s, padding, ceil_mode):
    x = f32(rng(3).standard_normal(shape))
    x.flat[::11] = np.nan
    x.flat[5::13] = -np.inf
    x.flat[7::17] = np.inf
    cpu, gpu = both(F.max_pool2d, x, k, s, padding, ceil_mode)
    np.testing.assert_array_equal(gpu, cpu)
    dy = f32(rng(4).standard_normal(cpu.shape))
    cpu, gpu = both(F.max_pool2d_backward, dy, x, k, s, padding, ceil_mode)
    np.testing.assert_array_equal(gpu[0], cpu[0])


@pytest.mark.parametrize("cip", [True, False])
@pytest.mark.parametrize("shape,k,s,padding,ceil_mode", POOL_CASES)
def test_avg_pool_equal_cpu(shape, k, s, padding, ceil_mode, cip):
    x = f32(rng(5).standard_normal(shape))
    cpu, gpu = both(F.avg_pool2d, x, k, s, padding, ceil_mode, cip)
    np.testing.assert_array_equal(gpu, cpu)
    dy = f32(rng(6).standard_normal(cpu.shape))
    cpu, gpu = both(F.avg_pool2d_backward, dy, x, k, s, padding, ceil_mode, cip)
    np.testing.assert_array_equal(gpu[0], cpu[0])


@pytest.mark.parametrize("shape", [(2, 3, 0, 3), (2, 3, 4, 0)])
def test_pool_of_empty_planes_writes_every_output(shape):
    # padding 1 with kernel 2 gives windows over an x with H or W = 0: -inf (max) and 0 (avg) as on
    # the CPU, not whatever the device memory held
    x = np.zeros(shape, np.float32)
    for fn in (F.max_pool2d, F.avg_pool2d):
        cpu, gpu = both(fn, x, 2, None, 1)
        assert cpu.size > 0
        np.testing.assert_array_equal(gpu, cpu)
    cpu, gpu = both(F.max_pool2d_backward, f32(np.ones(cpu.shape)), x, 2, None, 1)
    assert gpu[0].shape == shape


def test_global_avg_pool():
    x = f32(rng(7).standard_normal((3, 5, 17, 19)) + 100)
    cpu, gpu = both(F.global_avg_pool2d, x)
    assert_close(gpu, cpu, 1e-7)
    dy = f32(rng(8).standard_normal((3, 5)))
    cpu, gpu = both(F.global_avg_pool2d_backward, dy, x)
    np.testing.assert_array_equal(gpu[0], cpu[0])


# ---- activations -----------------------------------------------------------------------------------

def specials(shape, seed=9):
    x = f32(rng(seed).standard_normal(shape) * 3)
    extra = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e30, 90.0, -110.0]
    x.flat[: len(extra)] = extra
    return x


@pytest.mark.parametrize("n", [1, 3, 4, 1001, 1 << 20])  # scalar tail only, float4 + tail, large
def test_relu_family_equal_cpu(n):
    x, dy = specials((n,)) if n >= 9 else f32(rng(0).standard_normal(n)), f32(rng(10).standard_normal(n))
    for fwd, bwd, args in ((F.relu, F.relu_backward, ()), (F.leaky_relu, F.leaky_relu_backward, (0.2,))):
        cpu, gpu = both(fwd, x, *args)
        np.testing.assert_array_equal(gpu, cpu)
        cpu, gpu = both(bwd, dy, x, *args)
        np.testing.assert_array_equal(gpu[0], cpu[0])


def test_smooth_activations_close_to_cpu():
    x, dy = specials((4099,)), f32(rng(11).standard_normal(4099))
    for fwd, bwd, args in ((F.elu, F.elu_backward, (0.7,)), (F.sigmoid, F.sigmoid_backward, ()),
                           (F.tanh, F.tanh_backward, ())):
        cpu, gpu = both(fwd, x, *args)
        np.testing.assert_allclose(gpu, cpu, rtol=4e-6, atol=1e-37)
        cpu, gpu = both(bwd, dy, x, *args)
        np.testing.assert_allclose(gpu[0], cpu[0], rtol=8e-6, atol=1e-37)


def test_misaligned_views_take_the_scalar_path():
    """Row slices of a (rows, 3) array start 12 bytes apart: not 16-byte aligned."""
    x = specials((101, 3))
    xd = dev(x)[1:]
    got = F.relu(xd).numpy()
    np.testing.assert_array_equal(got, F.relu(x[1:]))
    y, mask = F.dropout(xd, 0.3, True, 77)
    want_y, want_mask = F.dropout(x[1:], 0.3, True, 77)
    np.testing.assert_array_equal(mask.numpy(), want_mask)
    np.testing.assert_array_equal(y.numpy(), want_y)


@pytest.mark.parametrize("shape", [(8, 10), (3, 1000), (2, 7, 5, 3)])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_with_minus_inf(shape, axis):
    x = f32(rng(12).standard_normal(shape) * 5)
    x.flat[::5] = -np.inf           # masked entries: probability 0
    x.reshape(shape[0], -1)[0] = -np.inf  # a fully masked slice: NaN, as on the CPU and in PyTorch
    dy = f32(rng(13).standard_normal(shape))
    for fwd, bwd in ((F.softmax, F.softmax_backward), (F.log_softmax, F.log_softmax_backward)):
        cpu, gpu = both(fwd, x, axis)
        np.testing.assert_array_equal(np.isnan(gpu), np.isnan(cpu))
        np.testing.assert_allclose(gpu, cpu, rtol=2e-6, atol=1e-7)
        cpu, gpu = both(bwd, dy, x, axis)
        np.testing.assert_array_equal(np.isnan(gpu[0]), np.isnan(cpu[0]))
        np.testing.assert_allclose(gpu[0], cpu[0], rtol=1e-5, atol=1e-6)


def test_softmax_saturated_row_keeps_tiny_gradients():
    x = f32([[0.0, 40.0, -40.0, 10.0]])
    dy = f32([[1.0, 2.0, 3.0, 4.0]])
    cpu, gpu = both(F.softmax_backward, dy, x, 1)
    np.testing.assert_allclose(gpu[0], cpu[0], rtol=1e-5, atol=0)


@pytest.mark.parametrize("shared", [False, True])
def test_prelu_dalpha_deterministic(shared):
    x = f32(rng(14).standard_normal((16, 8, 64, 64)))  # several chunks per channel
    dy = f32(rng(15).standard_normal(x.shape))
    alpha = f32(rng(16).uniform(0, 0.3, 1 if shared else 8))
    cpu = F.prelu_backward(dy, x, alpha)
    d = [host(F.prelu_backward(dev(dy), dev(x), dev(alpha))) for _ in range(2)]
    np.testing.assert_array_equal(d[0][1], d[1][1])
    np.testing.assert_array_equal(d[0][0], cpu[0])
    assert_close(d[0][1], cpu[1], 1e-6)


@pytest.mark.parametrize("seed", [0, 1234, 2**64 - 1])
@pytest.mark.parametrize("n", [7, 4096, 100003])
def test_dropout_mask_equals_cpu(seed, n):
    x = f32(rng(17).standard_normal(n))
    cpu, gpu = both(F.dropout, x, 0.4, True, seed)
    np.testing.assert_array_equal(gpu[1], cpu[1])
    np.testing.assert_array_equal(gpu[0], cpu[0])
    dy = f32(rng(18).standard_normal(n))
    np.testing.assert_array_equal(F.dropout_backward(dev(dy), dev(cpu[1]), 0.4)[0].numpy(),
                                  F.dropout_backward(dy, cpu[1], 0.4)[0])


@pytest.mark.parametrize("training", [True, False])
def test_rrelu_slopes_equal_cpu(training):
    x = specials((3, 4099))
    cpu, gpu = both(F.rrelu, x, 0.1, 0.3, training, 99)
    if fastcnn.info()["isa"] == "baseline":  # the CPU's no-FMA build rounds lower + u*range twice
        np.testing.assert_allclose(gpu[1], cpu[1], rtol=2.5e-7)
        return
    np.testing.assert_array_equal(gpu[1], cpu[1])  # both compute lower + u*range with one FMA
    np.testing.assert_array_equal(gpu[0], cpu[0])


# ---- norm --------------------------------------------------------------------------------------------

BN_SHAPES = [(1, 3, 5, 5), (7, 4), (2, 3, 1, 1), (4, 3, 128, 128)]  # one sample; (N,C); 1x1 planes; chunked


@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_train_equal_cpu(shape):
    C = shape[1]
    x = f32(rng(19).standard_normal(shape) * 3 + 50)  # offset: the shifted sums must not cancel
    gamma, beta = f32(rng(20).uniform(0.5, 2, C)), f32(rng(21).standard_normal(C))
    rm, rv = f32(rng(22).standard_normal(C)), f32(rng(23).uniform(0.5, 2, C))
    rm_d, rv_d = dev(rm), dev(rv)
    y_cpu = F.batch_norm(x, gamma, beta, rm, rv, True, 0.1, 1e-5)
    y_gpu = host(F.batch_norm(dev(x), dev(gamma), dev(beta), rm_d, rv_d, True, 0.1, 1e-5))
    assert_close(y_gpu, y_cpu, 1e-6, "y")
    assert_close(rm_d.numpy(), rm, 1e-6, "running_mean")
    assert_close(rv_d.numpy(), rv, 1e-6, "running_var")
    dy = f32(rng(24).standard_normal(shape))
    cpu = F.batch_norm_backward(dy, x, gamma, beta, rm, rv, True, 0.1, 1e-5)
    runs = [host(F.batch_norm_backward(dev(dy), dev(x), dev(gamma), dev(beta), dev(rm), dev(rv), True, 0.1, 1e-5))
            for _ in range(2)]
    for got, want in zip(runs[0], cpu):
        if want is not None:
            assert_close(got, want, 1e-5)
    for a, b in zip(*runs):
        if a is not None:
            np.testing.assert_array_equal(a, b)  # deterministic reductions


def test_batch_norm_eval_equal_cpu():
    shape = (5, 6, 3, 4)
    x = f32(rng(25).standard_normal(shape))
    rm, rv = f32(rng(26).standard_normal(6)), f32(rng(27).uniform(0.5, 2, 6))
    cpu, gpu = both(F.batch_norm, x, None, None, rm, rv, False, 0.1, 1e-5)
    assert_close(gpu, cpu, 1e-6)
    dy = f32(rng(28).standard_normal(shape))
    cpu, gpu = both(F.batch_norm_backward, dy, x, None, None, rm, rv, False, 0.1, 1e-5)
    for got, want in zip(gpu, cpu):
        if want is not None:
            assert_close(got, want, 1e-6)


def test_local_response_norm_equal_cpu():
    x = f32(rng(29).standard_normal((2, 9, 6, 7)))
    cpu, gpu = both(F.local_response_norm, x, 5, 1e-3, 0.75, 2.0)
    assert_close(gpu, cpu, 1e-6)
    dy = f32(rng(30).standard_normal(x.shape))
    cpu, gpu = both(F.local_response_norm_backward, dy, x, 5, 1e-3, 0.75, 2.0)
    assert_close(gpu[0], cpu[0], 1e-6)


# ---- loss ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("N,K", [(1, 1), (5, 10), (300, 1000), (64, 3)])
def test_cross_entropy_equal_cpu(N, K):
    z = f32(rng(31).standard_normal((N, K)) * 4)
    ids = rng(32).integers(0, K, N).astype(np.int64)
    probs = f32(rng(33).dirichlet(np.ones(K), N))
    for target in (ids, probs):
        want = F.cross_entropy(z, target)
        got = scalar(F.cross_entropy(dev(z), dev(target)))
        assert abs(got - want) <= 1e-6 * max(1.0, abs(want))
        cpu = F.cross_entropy_backward(z, target)[0]
        gpu = F.cross_entropy_backward(dev(z), dev(target))[0].numpy()
        assert_close(gpu, cpu, 1e-6)


def test_cross_entropy_nan_logit_gives_nan():
    z = f32(rng(34).standard_normal((4, 5)))
    z[2, 3] = np.nan
    ids = np.array([0, 1, 2, 3], np.int64)
    assert np.isnan(scalar(F.cross_entropy(dev(z), dev(ids))))
    d = F.cross_entropy_backward(dev(z), dev(ids))[0].numpy()
    assert np.isnan(d[2]).all() and np.isfinite(np.delete(d, 2, axis=0)).all()


# ---- optimizers ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [3, 1 << 16, 1001])
def test_optimizer_steps_equal_cpu(n):
    r = rng(35)
    p0, g = f32(r.standard_normal(n)), f32(r.standard_normal(n))
    # SGD with momentum + Nesterov + weight decay
    p, v = p0.copy(), np.zeros_like(p0)
    pd, vd, gd = dev(p0), dev(v), dev(g)
    for _ in range(3):
        F.sgd_step(p, g, v, 0.1, 0.9, True, 1e-3)
        F.sgd_step(pd, gd, vd, 0.1, 0.9, True, 1e-3)
    np.testing.assert_allclose(pd.numpy(), p, rtol=1e-6, atol=1e-7)
    # AdamW
    p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    pd, md, vd = dev(p0), dev(m), dev(v)
    for step in range(1, 4):
        F.adam_step(p, g, m, v, step, 1e-2, 0.9, 0.999, 1e-8, 1e-2, True)
        F.adam_step(pd, gd, md, vd, step, 1e-2, 0.9, 0.999, 1e-8, 1e-2, True)
    np.testing.assert_allclose(pd.numpy(), p, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(vd.numpy(), v, rtol=1e-6, atol=1e-12)
    # RMSprop
    p, sq = p0.copy(), np.zeros_like(p0)
    pd, sqd = dev(p0), dev(sq)
    for _ in range(3):
        F.rmsprop_step(p, g, sq, 1e-2, 0.99, 1e-8)
        F.rmsprop_step(pd, gd, sqd, 1e-2, 0.99, 1e-8)
    np.testing.assert_allclose(pd.numpy(), p, rtol=1e-6, atol=1e-7)
