import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import fastcnn
import fastcnn.functional as F
import reference as R
from reference import assert_close, numeric_grad, threads_1_and_2




def make_target(rng, kind, N, K):
    if kind == "probs":
        p = rng.random((N, K)) + 0.01
        return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)
    if kind == "onehot":
        return np.eye(K, dtype=np.float32)[rng.integers(0, K, N)]
    return rng.integers(0, K, N).astype(kind)


@given(N=st.integers(1, 20), K=st.integers(1, 30), scale=st.sampled_from([1.0, 30.0]),
       kind=st.sampled_from(["probs", "onehot", "int64", "int32", "uint8", "int8"]))
def test_loss_and_gradient_match_float64(N, K, scale, kind):
    rng = np.random.default_rng(N * 100 + K)
    z = (scale * rng.standard_normal((N, K))).astype(np.float32)
    t = make_target(rng, kind, N, K)
    loss = F.cross_entropy(z, t)
    assert isinstance(loss, float)
    assert_close(loss, R.cross_entropy(z, t), what="loss")
    (dz,) = F.cross_entropy_backward(z, t)
    assert dz.dtype == np.float32
    assert_close(dz, R.cross_entropy_backward(z, t)[0], what="dlogits")


def test_stable_for_huge_logits():
    z = np.array([[1e4, 0.0, -1e4], [3e38, 3e38, -3e38]], np.float32)
    t = np.array([1, 0])
    loss = F.cross_entropy(z, t)
    assert math.isfinite(loss)
    assert_close(loss, R.cross_entropy(z, t))
    (dz,) = F.cross_entropy_backward(z, t)
    assert_close(dz, R.cross_entropy_backward(z, t)[0])


def test_unnormalized_probabilities_follow_the_definition():
    rng = np.random.default_rng(1)
    z, t = rng.standard_normal((4, 5)).astype(np.float32), rng.random((4, 5)).astype(np.float32) * 2
    assert_close(F.cross_entropy(z, t), R.cross_entropy(z, t))
    assert_close(F.cross_entropy_backward(z, t)[0], R.cross_entropy_backward(z, t)[0])


@pytest.mark.parametrize("kind", ["probs", "int64"])
def test_reference_backward_matches_finite_differences(kind):
    rng = np.random.default_rng(2)
    z = rng.standard_normal((3, 4))
    t = make_target(rng, kind, 3, 4)
    (dz,) = R.cross_entropy_backward(z, t)
    assert_close(dz, numeric_grad(lambda v: np.array(R.cross_entropy(v, t)), z.copy(), np.array(1.0)), 1e-7)


def test_thread_count_does_not_change_results():
    rng = np.random.default_rng(3)
    z = (3 * rng.standard_normal((2048, 500))).astype(np.float32)
    ids, probs = make_target(rng, "int64", 2048, 500), make_target(rng, "probs", 2048, 500)

    def run():
        return (F.cross_entropy(z, ids), F.cross_entropy(z, probs),
                F.cross_entropy_backward(z, ids)[0], F.cross_entropy_backward(z, probs)[0])

    one, two = threads_1_and_2(run)
    assert one[0] == two[0] and one[1] == two[1]
    assert np.array_equal(one[2], two[2]) and np.array_equal(one[3], two[3])
    assert_close(one[0], R.cross_entropy(z, ids))


def test_empty_batch():
    z = np.zeros((0, 5), np.float32)
    assert math.isnan(F.cross_entropy(z, np.zeros(0, np.int64)))
    assert math.isnan(F.cross_entropy(z, np.zeros((0, 5), np.float32)))
    assert F.cross_entropy_backward(z, np.zeros(0, np.int64))[0].shape == (0, 5)


def test_nan_propagates():
    z = np.zeros((2, 3), np.float32)
    z[0, 1] = np.nan
    assert math.isnan(F.cross_entropy(z, [0, 0]))
    (dz,) = F.cross_entropy_backward(z, [0, 0])
    assert np.isnan(dz[0]).all() and not np.isnan(dz[1]).any()


def test_non_contiguous_and_float64_inputs():
    rng = np.random.default_rng(4)
    z = rng.standard_normal((6, 14))[:, ::2]
    ids = rng.integers(0, 7, 12)[::2]
    probs = np.asfortranarray(make_target(rng, "probs", 6, 7).astype(np.float64))
    for t in (ids, probs, list(ids)):
        assert_close(F.cross_entropy(z, t), R.cross_entropy(z, t))
        assert_close(F.cross_entropy_backward(z, t)[0], R.cross_entropy_backward(z, t)[0])


def test_bad_inputs_name_the_argument():
    z = np.zeros((3, 10), np.float32)
    with pytest.raises(ValueError, match="'logits'"):
        F.cross_entropy(np.zeros(10, np.float32), [1])
    with pytest.raises(TypeError, match="'logits'"):
        F.cross_entropy([["a", "b"]], [0])
    with pytest.raises(ValueError, match=r"'target'.*class id 10 at index 2.*\[0, 10\)"):
        F.cross_entropy(z, [1, 2, 10])
    with pytest.raises(ValueError, match=r"'target'.*class id -1 at index 0.*\[0, 10\)"):
        F.cross_entropy_backward(z, np.array([-1, 2, 3], np.int8))
    with pytest.raises(ValueError, match=r"'target'.*class id"):
        F.cross_entropy(z, np.array([1, 2, 2**64 - 1], np.uint64))
    with pytest.raises(ValueError, match="'target'.*shape \\(2,\\)"):
        F.cross_entropy(z, [1, 2])
    with pytest.raises(TypeError, match="'target'"):
        F.cross_entropy(z, np.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="'target'.*shape \\(3, 9\\)"):
        F.cross_entropy(z, np.zeros((3, 9), np.float32))
    with pytest.raises(ValueError, match="'target'"):
        F.cross_entropy(z, np.zeros((3, 10, 1), np.float32))
    with pytest.raises(TypeError, match="'target'"):
        F.cross_entropy(z, np.array([["a"] * 10] * 3))
    with pytest.raises(ValueError, match="'logits'"):
        F.cross_entropy(np.zeros((3, 0), np.float32), np.zeros((3, 0), np.float32))


def test_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    z = (2 * rng.standard_normal((6, 9))).astype(np.float32)
    for t in (make_target(rng, "int64", 6, 9), make_target(rng, "probs", 6, 9)):
        tz = torch.tensor(z, requires_grad=True)
        loss = torch.nn.functional.cross_entropy(tz, torch.tensor(t))
        loss.backward()
        assert_close(F.cross_entropy(z, t), loss.item())
        assert_close(F.cross_entropy_backward(z, t)[0], tz.grad.numpy())


@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf])
def test_probability_targets_must_be_finite_and_non_negative(bad):
    t = np.full((2, 3), 1 / 3, np.float32)
    t[1, 2] = bad
    with pytest.raises(ValueError, match="'target'.*non-negative probabilities"):
        F.cross_entropy(np.zeros((2, 3), np.float32), t)
