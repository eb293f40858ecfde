import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastcnn
import fastcnn.functional as F
import reference as R
from reference import assert_close, numeric_grad, threads_1_and_2


def rand(rng, *shape, scale=1.0, offset=0.0):
    return (offset + scale * rng.standard_normal(shape)).astype(np.float32)




def running(rng, C):
    return rand(rng, C, scale=0.5), (0.5 + rng.random(C)).astype(np.float32)


# ---- batch norm -------------------------------------------------------------------------------

bn_shapes = st.one_of(
    st.tuples(st.integers(2, 30), st.integers(1, 70)),
    st.tuples(st.integers(1, 4), st.integers(1, 6), st.integers(2, 20)),
    st.tuples(st.integers(1, 4), st.integers(1, 6), st.integers(1, 7), st.integers(1, 7)))


@given(shape=bn_shapes, training=st.booleans(), affine=st.booleans(),
       momentum=st.sampled_from([0.1, 0.5, 1.0]), offset=st.sampled_from([0.0, 3.0, -50.0]))
def test_batch_norm_matches_float64(shape, training, affine, momentum, offset):
    rng = np.random.default_rng(sum(shape) * 7 + len(shape))
    if training and np.prod(shape) // shape[1] < 4:
        shape = (4,) + shape[1:]  # 2 values per channel make dx vanish (cancellation, no signal)
    C = shape[1]
    x = rand(rng, *shape, scale=2.0, offset=offset)
    dy = rand(rng, *shape)
    gamma, beta = (rand(rng, C), rand(rng, C)) if affine else (None, None)
    rm, rv = running(rng, C)
    if not training:
        rm += offset
    rm64, rv64 = rm.astype(np.float64), rv.astype(np.float64)
    y = F.batch_norm(x, gamma, beta, rm, rv, training, momentum)
    assert_close(y, R.batch_norm(x, gamma, beta, rm64, rv64, training, momentum), what="y")
    assert_close(rm, rm64, what="running_mean")
    assert_close(rv, rv64, what="running_var")
    before = rm.copy(), rv.copy()
    got = F.batch_norm_backward(dy, x, gamma, beta, rm, rv, training, momentum)
    want = R.batch_norm_backward(dy, x, gamma, beta, rm64, rv64, training, momentum)
    assert np.array_equal(before[0], rm) and np.array_equal(before[1], rv)  # backward never writes them
    for name, g, r in zip(("dx", "dgamma", "dbeta"), got, want):
        if r is None:
            assert g is None
        else:
            assert_close(g, r, what=name)


def test_running_statistics_update():
    rng = np.random.default_rng(0)
    x = rand(rng, 8, 3, 5, 5, scale=3.0, offset=2.0)
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    F.batch_norm(x, None, None, rm, rv, training=True, momentum=0.25)
    x64 = x.astype(np.float64)
    mean, var = x64.mean(axis=(0, 2, 3)), x64.var(axis=(0, 2, 3), ddof=1)  # unbiased
    assert_close(rm, 0.25 * mean)
    assert_close(rv, 0.75 + 0.25 * var)
    y = F.batch_norm(x, None, None, rm, rv, training=False)  # eval uses them
    assert_close(y, (x64 - rm.reshape(1, 3, 1, 1)) / np.sqrt(rv.reshape(1, 3, 1, 1) + 1e-5))


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_reference_backward_matches_finite_differences(training):
    rng = np.random.default_rng(1)
    x, dy = rng.standard_normal((3, 2, 2, 2)), rng.standard_normal((3, 2, 2, 2))
    gamma, beta = rng.standard_normal(2), rng.standard_normal(2)
    rm, rv = rng.standard_normal(2), 0.5 + rng.random(2)

    def f(x_=x, g_=gamma, b_=beta):
        return R.batch_norm(x_, g_, b_, None if training else rm, None if training else rv, training)

    dx, dgamma, dbeta = R.batch_norm_backward(dy, x, gamma, beta, rm, rv, training)
    assert_close(dx, numeric_grad(lambda v: f(x_=v), x.copy(), dy), 1e-6)
    assert_close(dgamma, numeric_grad(lambda v: f(g_=v), gamma.copy(), dy), 1e-6)
    assert_close(dbeta, numeric_grad(lambda v: f(b_=v), beta.copy(), dy), 1e-6)


@pytest.mark.parametrize("shape", [(8, 24, 24, 24), (1024, 96)])
def test_batch_norm_thread_count_does_not_change_results(shape):
    rng = np.random.default_rng(2)
    C = shape[1]
    x, dy, gamma, beta = rand(rng, *shape, offset=1.0), rand(rng, *shape), rand(rng, C), rand(rng, C)

    def run():
        rm, rv = np.zeros(C, np.float32), np.ones(C, np.float32)
        y = F.batch_norm(x, gamma, beta, rm, rv, True)
        return (y, rm, rv) + F.batch_norm_backward(dy, x, gamma, beta, rm, rv, True) + \
            F.batch_norm_backward(dy, x, gamma, beta, rm, rv, False)

    one, two = threads_1_and_2(run)
    for a, b in zip(one, two):
        assert np.array_equal(a, b)
    assert_close(one[0], R.batch_norm(x, gamma, beta, None, None, True))


def test_batch_norm_empty_batch():
    rng = np.random.default_rng(3)
    gamma, beta = rand(rng, 3), rand(rng, 3)
    rm, rv = running(rng, 3)
    saved = rm.copy(), rv.copy()
    for training in (True, False):
        x = np.zeros((0, 3, 4, 4), np.float32)
        assert F.batch_norm(x, gamma, beta, rm, rv, training).shape == x.shape
        dx, dgamma, dbeta = F.batch_norm_backward(x, x, gamma, beta, rm, rv, training)
        assert dx.shape == x.shape
        assert np.array_equal(dgamma, np.zeros(3)) and np.array_equal(dbeta, np.zeros(3))
    assert np.array_equal(rm, saved[0]) and np.array_equal(rv, saved[1])  # as PyTorch: untouched


def test_batch_norm_non_contiguous_and_float64_inputs():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 6, 5, 5))[:, ::2]  # float64, strided
    dy = np.asfortranarray(rng.standard_normal((4, 3, 5, 5)))
    gamma, beta = rng.standard_normal(6)[::2], rng.standard_normal(3).astype(np.float64)
    rm, rv = running(rng, 3)
    rm64, rv64 = rm.astype(np.float64), rv.astype(np.float64)
    assert_close(F.batch_norm(x, gamma, beta, rm, rv, True), R.batch_norm(x, gamma, beta, rm64, rv64, True))
    assert_close(rv, rv64)
    for g, r in zip(F.batch_norm_backward(dy, x, gamma, beta, rm, rv, True),
                    R.batch_norm_backward(dy, x, gamma, beta, rm64, rv64, True)):
        assert_close(g, r)


def test_batch_norm_bad_inputs_name_the_argument():
    x = np.zeros((4, 3, 2, 2), np.float32)
    g = np.ones(3, np.float32)
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    with pytest.raises(ValueError, match="'x'"):
        F.batch_norm(np.zeros(3, np.float32), g, g, rm, rv)
    with pytest.raises(ValueError, match="'gamma'.*got shape \\(4,\\)"):
        F.batch_norm(x, np.ones(4, np.float32), g, rm, rv)
    with pytest.raises(ValueError, match="'beta'"):
        F.batch_norm(x, g, np.ones((3, 1), np.float32), rm, rv)
    with pytest.raises(ValueError, match="'running_mean'.*float64"):
        F.batch_norm(x, g, g, np.zeros(3), rv, True)
    with pytest.raises(ValueError, match="'running_var'.*C-contiguous"):
        F.batch_norm(x, g, g, rm, np.ones(6, np.float32)[::2], True)
    with pytest.raises(ValueError, match="'running_var'.*shape \\(2,\\)"):
        F.batch_norm(x, g, g, rm, np.ones(2, np.float32), True)
    ro = np.ones(3, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="'running_var'.*read-only"):
        F.batch_norm(x, g, g, rm, ro, True)
    with pytest.raises(TypeError, match="'running_mean'"):
        F.batch_norm(x, g, g, [0.0, 0.0, 0.0], rv, True)
    with pytest.raises(ValueError, match="'running_mean'.*None"):
        F.batch_norm(x, g, g, None, rv, False)
    with pytest.raises(ValueError, match="'x'.*more than 1 value per channel"):
        F.batch_norm(np.zeros((1, 3), np.float32), g, g, rm, rv, True)
    with pytest.raises(ValueError, match="'x'.*more than 1 value per channel"):
        F.batch_norm_backward(np.zeros((1, 3, 1, 1), np.float32), np.zeros((1, 3, 1, 1), np.float32),
                              g, g, rm, rv, True)
    with pytest.raises(ValueError, match="'momentum'"):
        F.batch_norm(x, g, g, rm, rv, True, momentum=1.5)
    with pytest.raises(ValueError, match="'eps'"):
        F.batch_norm(x, g, g, rm, rv, True, eps=-1.0)
    with pytest.raises(TypeError, match="'training'"):
        F.batch_norm(x, g, g, rm, rv, "yes")
    with pytest.raises(TypeError, match="'x'"):
        F.batch_norm(np.array([["a", "b", "c"]]), g, g, rm, rv)
    with pytest.raises(ValueError, match="'dy'"):
        F.batch_norm_backward(np.zeros((4, 3, 2, 1), np.float32), x, g, g, rm, rv, True)
    with pytest.raises(ValueError, match="'running_var'"):
        F.batch_norm_backward(x, x, g, g, rm, np.ones(4, np.float32), False)
    assert np.array_equal(rm, np.zeros(3)) and np.array_equal(rv, np.ones(3))


def test_batch_norm_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x, dy, gamma, beta = rand(rng, 5, 4, 3, 3, offset=1.0), rand(rng, 5, 4, 3, 3), rand(rng, 4), rand(rng, 4)
    rm, rv = running(rng, 4)
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    tx, tg, tb = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    ty = torch.nn.functional.batch_norm(tx, trm, trv, tg, tb, training=True, momentum=0.3)
    ty.backward(torch.tensor(dy))
    assert_close(F.batch_norm(x, gamma, beta, rm, rv, True, 0.3), ty.detach().numpy())
    assert_close(rm, trm.numpy())
    assert_close(rv, trv.numpy())
    for g, t in zip(F.batch_norm_backward(dy, x, gamma, beta, rm, rv, True, 0.3), (tx, tg, tb)):
        assert_close(g, t.grad.numpy())


# ---- local response norm ----------------------------------------------------------------------

@given(N=st.integers(1, 3), C=st.integers(1, 12), H=st.integers(1, 6), W=st.integers(1, 6),
       three_d=st.booleans(), size=st.integers(1, 8), alpha=st.sampled_from([1e-4, 0.1, 1.0]),
       beta=st.sampled_from([0.75, 0.5, 1.3]), k=st.sampled_from([2.0, 1.0, 0.5]))
def test_local_response_norm_matches_float64(N, C, H, W, three_d, size, alpha, beta, k):
    rng = np.random.default_rng(N + 10 * C + 100 * H + 1000 * W + size)
    shape = (N, C, H * W) if three_d else (N, C, H, W)
    x, dy = rand(rng, *shape, scale=2.0), rand(rng, *shape)
    assert_close(F.local_response_norm(x, size, alpha, beta, k),
                 R.local_response_norm(x, size, alpha, beta, k))
    (dx,) = F.local_response_norm_backward(dy, x, size, alpha, beta, k)
    assert_close(dx, R.local_response_norm_backward(dy, x, size, alpha, beta, k)[0])


@pytest.mark.parametrize("shape,size", [((2, 5, 2, 3), 3), ((2, 6, 4), 4), ((1, 4, 3, 2), 1)])
def test_local_response_norm_reference_backward_matches_finite_differences(shape, size):
    rng = np.random.default_rng(6)
    x, dy = rng.standard_normal(shape), rng.standard_normal(shape)
    (dx,) = R.local_response_norm_backward(dy, x, size, 0.5, 0.75, 1.0)
    numeric = numeric_grad(lambda v: R.local_response_norm(v, size, 0.5, 0.75, 1.0), x.copy(), dy)
    assert_close(dx, numeric, 1e-6)


def test_local_response_norm_thread_count_does_not_change_results():
    rng = np.random.default_rng(7)
    x, dy = rand(rng, 8, 16, 40, 40), rand(rng, 8, 16, 40, 40)

    def run():
        return F.local_response_norm(x, 5, 0.1), F.local_response_norm_backward(dy, x, 5, 0.1)[0]

    one, two = threads_1_and_2(run)
    assert np.array_equal(one[0], two[0]) and np.array_equal(one[1], two[1])
    assert_close(one[0], R.local_response_norm(x, 5, 0.1))


def test_local_response_norm_empty_non_contiguous_and_float64():
    assert F.local_response_norm(np.zeros((0, 3, 4, 4), np.float32)).shape == (0, 3, 4, 4)
    assert F.local_response_norm_backward(np.zeros((0, 3, 4)), np.zeros((0, 3, 4)))[0].shape == (0, 3, 4)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 6, 5, 10))[:, :, :, ::2]
    dy = np.asfortranarray(rng.standard_normal((2, 6, 5, 5)))
    assert_close(F.local_response_norm(x, 3, 0.2), R.local_response_norm(x, 3, 0.2))
    assert_close(F.local_response_norm_backward(dy, x, 3, 0.2)[0],
                 R.local_response_norm_backward(dy, x, 3, 0.2)[0])


def test_local_response_norm_bad_inputs_name_the_argument():
    x = np.zeros((2, 3, 4, 4), np.float32)
    with pytest.raises(ValueError, match="'x'"):
        F.local_response_norm(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="'size'"):
        F.local_response_norm(x, 0)
    with pytest.raises(TypeError, match="'size'"):
        F.local_response_norm(x, 2.5)
    with pytest.raises(TypeError, match="'alpha'"):
        F.local_response_norm(x, 3, "big")
    with pytest.raises(ValueError, match="'beta'"):
        F.local_response_norm(x, 3, 1e-4, float("nan"))
    with pytest.raises(ValueError, match="'dy'"):
        F.local_response_norm_backward(np.zeros((2, 3, 4, 5), np.float32), x)
    with pytest.raises(TypeError, match="'x'"):
        F.local_response_norm(np.array([[["a"]]]))


def test_local_response_norm_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    x, dy = rand(rng, 2, 7, 3, 4, scale=3.0), rand(rng, 2, 7, 3, 4)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.local_response_norm(tx, 4, alpha=0.3, beta=0.6, k=1.5)
    ty.backward(torch.tensor(dy))
    assert_close(F.local_response_norm(x, 4, 0.3, 0.6, 1.5), ty.detach().numpy())
    assert_close(F.local_response_norm_backward(dy, x, 4, 0.3, 0.6, 1.5)[0], tx.grad.numpy())


def test_eval_batch_norm_rejects_negative_running_var():
    x = np.ones((2, 3, 4, 4), np.float32)
    rv = np.array([1, -1, 1], np.float32)
    with pytest.raises(ValueError, match="'running_var'.*non-negative"):
        F.batch_norm(x, None, None, np.zeros(3, np.float32), rv, training=False)


@pytest.mark.parametrize("kw, name", [({"k": -1.0}, "k"), ({"k": 0.0}, "k"), ({"alpha": -1e-4}, "alpha")])
def test_lrn_rejects_parameters_that_make_the_base_non_positive(kw, name):
    with pytest.raises(ValueError, match=f"'{name}'"):
        F.local_response_norm(np.ones((1, 3, 4, 4), np.float32), **kw)
