import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastcnn
import fastcnn.functional as F
import reference as R
from reference import assert_close, threads_1_and_2

STEPS = 5
shapes = st.sampled_from([(1,), (7,), (3, 5), (4, 3, 2, 2), (0,), (1000,)])




def run_both(shape, seed, fast_step, ref_step, n_state, state_init=0.0):
    """STEPS steps of fastcnn (float32) and the float64 reference from the same start and grads,
    comparing the parameter and every state array after each step."""
    rng = np.random.default_rng(seed)
    p32 = rng.standard_normal(shape).astype(np.float32)
    s32 = [np.full(shape, state_init, np.float32) for _ in range(n_state)]
    p64, s64 = p32.astype(np.float64), [s.astype(np.float64) for s in s32]
    for step in range(1, STEPS + 1):
        g = rng.standard_normal(shape).astype(np.float32)
        assert fast_step(p32, g, *s32, step=step) is None
        ref_step(p64, g.astype(np.float64), *s64, step=step)
        assert_close(p32, p64, what=f"param after step {step}")
        for a, b in zip(s32, s64):
            assert_close(a, b, what=f"state after step {step}")


@given(shape=shapes, momentum=st.sampled_from([0.0, 0.5, 0.9]), nesterov=st.booleans(),
       weight_decay=st.sampled_from([0.0, 0.01]), lr=st.sampled_from([0.1, 0.01]))
def test_sgd_matches_float64(shape, momentum, nesterov, weight_decay, lr):
    nesterov = nesterov and momentum > 0
    kw = dict(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)

    def fast(p, g, vel, step):
        return F.sgd_step(p, g, vel if momentum else None, **kw)

    def ref(p, g, vel, step):
        R.sgd_step(p, g, vel, **kw)

    run_both(shape, 1, fast, ref, 1)


@given(shape=shapes, lr=st.sampled_from([1e-3, 0.1]),
       betas=st.sampled_from([(0.9, 0.999), (0.0, 0.5), (0.5, 0.9)]),
       weight_decay=st.sampled_from([0.0, 0.1]), decoupled=st.booleans(), eps=st.sampled_from([1e-8, 1e-3]))
def test_adam_matches_float64(shape, lr, betas, weight_decay, decoupled, eps):
    kw = dict(lr=lr, beta1=betas[0], beta2=betas[1], eps=eps, weight_decay=weight_decay, decoupled=decoupled)
    run_both(shape, 2, lambda p, g, m, v, step: F.adam_step(p, g, m, v, step, **kw),
             lambda p, g, m, v, step: R.adam_step(p, g, m, v, step, **kw), 2)


@given(shape=shapes, lr=st.sampled_from([1e-2, 1e-3]), alpha=st.sampled_from([0.99, 0.5, 0.0]),
       eps=st.sampled_from([1e-8, 1e-2]))
def test_rmsprop_matches_float64(shape, lr, alpha, eps):
    kw = dict(lr=lr, alpha=alpha, eps=eps)
    run_both(shape, 3, lambda p, g, sq, step: F.rmsprop_step(p, g, sq, **kw),
             lambda p, g, sq, step: R.rmsprop_step(p, g, sq, **kw), 1)


def test_sgd_without_momentum_leaves_velocity_alone():
    p, g, vel = np.ones(4, np.float32), np.full(4, 2.0, np.float32), np.full(4, 7.0, np.float32)
    F.sgd_step(p, g, vel, lr=0.5)
    assert np.array_equal(p, np.zeros(4)) and np.array_equal(vel, np.full(4, 7.0))


def test_thread_count_does_not_change_results():
    rng = np.random.default_rng(4)
    n = 300_000
    start = [rng.standard_normal(n).astype(np.float32) for _ in range(3)]
    grads = [rng.standard_normal(n).astype(np.float32) for _ in range(3)]

    def run():
        p1, p2, p3 = (s.copy() for s in start)
        vel, m, v, sq = (np.zeros(n, np.float32) for _ in range(4))
        for step, g in enumerate(grads, 1):
            F.sgd_step(p1, g, vel, 0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
            F.adam_step(p2, g, m, v, step, weight_decay=0.01, decoupled=True)
            F.rmsprop_step(p3, g, sq)
        return p1, p2, p3, vel, m, v, sq

    one, two = threads_1_and_2(run)
    for a, b in zip(one, two):
        assert np.array_equal(a, b)


def test_grad_may_be_float64_or_strided():
    rng = np.random.default_rng(5)
    p = rng.standard_normal((4, 3)).astype(np.float32)
    g = rng.standard_normal((3, 8)).T[::2]  # float64, (4, 3), strided
    p64 = p.astype(np.float64)
    F.sgd_step(p, g, None, 0.1)
    R.sgd_step(p64, g, None, 0.1)
    assert_close(p, p64)


def test_bad_inputs_name_the_argument():
    def arrays(n=3):
        return [np.zeros(n, np.float32) for _ in range(4)]

    p, g, s1, s2 = arrays()
    with pytest.raises(ValueError, match="'param'.*float64"):
        F.sgd_step(np.zeros(3), g, None, 0.1)
    with pytest.raises(TypeError, match="'param'"):
        F.sgd_step([0.0, 0.0, 0.0], g, None, 0.1)
    with pytest.raises(ValueError, match="'param'.*C-contiguous"):
        F.rmsprop_step(np.zeros(6, np.float32)[::2], g, s1)
    with pytest.raises(ValueError, match="'grad'.*shape \\(4,\\)"):
        F.sgd_step(p, np.zeros(4, np.float32), None, 0.1)
    with pytest.raises(TypeError, match="'grad'"):
        F.sgd_step(p, np.array(["a", "b", "c"]), None, 0.1)
    with pytest.raises(ValueError, match="'velocity'.*C-contiguous"):
        F.sgd_step(p, g, np.zeros(6, np.float32)[::2], 0.1, momentum=0.9)
    with pytest.raises(ValueError, match="'velocity'.*None"):
        F.sgd_step(p, g, None, 0.1, momentum=0.9)
    with pytest.raises(ValueError, match="'nesterov'"):
        F.sgd_step(p, g, s1, 0.1, nesterov=True)
    with pytest.raises(ValueError, match="'lr'"):
        F.sgd_step(p, g, None, -0.1)
    with pytest.raises(ValueError, match="'momentum'"):
        F.sgd_step(p, g, s1, 0.1, momentum=-0.5)
    with pytest.raises(ValueError, match="'weight_decay'"):
        F.sgd_step(p, g, None, 0.1, weight_decay=-1.0)
    with pytest.raises(TypeError, match="'lr'"):
        F.sgd_step(p, g, None, "fast")
    with pytest.raises(ValueError, match="'m'.*shape \\(2,\\)"):
        F.adam_step(p, g, np.zeros(2, np.float32), s2, 1)
    ro = np.zeros(3, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="'v'.*read-only"):
        F.adam_step(p, g, s1, ro, 1)
    with pytest.raises(ValueError, match="'v'.*float64"):
        F.adam_step(p, g, s1, np.zeros(3), 1)
    with pytest.raises(ValueError, match="'step'"):
        F.adam_step(p, g, s1, s2, 0)
    with pytest.raises(TypeError, match="'step'"):
        F.adam_step(p, g, s1, s2, 1.5)
    with pytest.raises(ValueError, match="'beta1'"):
        F.adam_step(p, g, s1, s2, 1, beta1=1.0)
    with pytest.raises(ValueError, match="'beta2'"):
        F.adam_step(p, g, s1, s2, 1, beta2=-0.1)
    with pytest.raises(ValueError, match="'eps'"):
        F.adam_step(p, g, s1, s2, 1, eps=0.0)
    with pytest.raises(TypeError, match="'decoupled'"):
        F.adam_step(p, g, s1, s2, 1, decoupled="yes")
    with pytest.raises(ValueError, match="'square_avg'.*shape"):
        F.rmsprop_step(p, g, np.zeros((3, 1), np.float32))
    with pytest.raises(ValueError, match="'alpha'"):
        F.rmsprop_step(p, g, s1, alpha=1.5)
    with pytest.raises(ValueError, match="'eps'"):
        F.rmsprop_step(p, g, s1, eps=-1.0)
    for a in (p, s1, s2):
        assert np.array_equal(a, np.zeros(3))  # nothing was written


def test_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    start = rng.standard_normal((5, 4)).astype(np.float32)
    grads = [rng.standard_normal((5, 4)).astype(np.float32) for _ in range(4)]
    cases = [
        (lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
         lambda p, g, st, step: F.sgd_step(p, g, st[0], 0.1, 0.9, True, 0.01), 1),
        (lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=0.1),
         lambda p, g, st, step: F.adam_step(p, g, st[0], st[1], step, lr=0.01, weight_decay=0.1), 2),
        (lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.1),
         lambda p, g, st, step: F.adam_step(p, g, st[0], st[1], step, lr=0.01, weight_decay=0.1,
                                            decoupled=True), 2),
        (lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9),
         lambda p, g, st, step: F.rmsprop_step(p, g, st[0], lr=0.01, alpha=0.9), 1),
    ]
    for make_opt, step_fn, n_state in cases:
        tp = torch.nn.Parameter(torch.tensor(start))
        opt = make_opt([tp])
        p, state = start.copy(), [np.zeros_like(start) for _ in range(n_state)]
        for step, g in enumerate(grads, 1):
            tp.grad = torch.tensor(g)
            opt.step()
            step_fn(p, g, state, step)
            assert_close(p, tp.detach().numpy(), what=f"{type(opt).__name__} step {step}")
