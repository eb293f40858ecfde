"""The host training step's one-call paths: _C.gather_rows (the batch), _C.cross_entropy_forward_backward
(loss, gradient and accuracy count), _C.sgd_step_many (the optimizer), and fit with them against fit
with the general calls, bit for bit."""
import numpy as np
import pytest

import fastcnn
from fastcnn import _C, callbacks, layers, optim
import reference as R
from reference import assert_close, run_on_isa, threads_1_and_2


def randn(*shape, seed=0, scale=1.0):
    return (scale * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)


# -- gather_rows: a batch of rows, converted and scaled in one pass

@pytest.mark.parametrize("shape", [(50, 1, 28, 28), (40, 3, 5), (30,), (20, 0)])
def test_gather_rows_uint8_is_numpy_astype_divide(shape):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, shape, dtype=np.uint8)
    x.flat[:256] = np.arange(min(256, x.size))  # every byte value where there is room
    idx = rng.integers(0, shape[0], 64)           # repeats allowed
    out = np.full((64, *shape[1:]), np.nan, np.float32)
    _C.gather_rows(x, idx, out, 255.0)
    want = x[idx].astype(np.float32) / 255
    assert out.tobytes() == want.tobytes()
    assert_close(out, x[idx].astype(np.float64) / 255, 1e-7)


def test_gather_rows_float32_copies_the_bits_and_divides_exactly():
    x = randn(100, 2, 3, 4, seed=2)
    x[0, 0, 0, :2] = [np.nan, np.inf]
    x.view(np.uint32)[1, 0, 0, 0] = 0x7F800001          # a signalling NaN: copied as it is
    idx = np.random.default_rng(3).permutation(100)[:37]
    out = np.empty((37, 2, 3, 4), np.float32)
    _C.gather_rows(x, idx, out)
    assert out.tobytes() == x[idx].tobytes()
    x.view(np.uint32)[1, 0, 0, 0] = 0x7FC00000          # a quiet NaN for the division
    _C.gather_rows(x, idx, out, 7.0)
    assert out.tobytes() == (x[idx] / np.float32(7)).tobytes()


def test_gather_rows_empty_and_thread_count():
    x = np.random.default_rng(4).integers(0, 256, (3000, 1, 28, 28), dtype=np.uint8)
    out = np.empty((0, 1, 28, 28), np.float32)
    _C.gather_rows(x, np.zeros(0, np.int64), out, 255.0)
    idx = np.random.default_rng(5).permutation(3000)[:1000]

    def run():
        y = np.empty((1000, 1, 28, 28), np.float32)
        _C.gather_rows(x, idx, y, 255.0)
        return y
    one, two = threads_1_and_2(run)
    assert one.tobytes() == two.tobytes() == (x[idx].astype(np.float32) / 255).tobytes()


def test_gather_rows_bad_arguments_name_the_argument():
    x = np.zeros((10, 4), np.uint8)
    idx = np.array([0, 3], np.int64)
    out = np.empty((2, 4), np.float32)
    cases = [
        ((x, np.array([0, 10]), out), r"'idx' got row 10 at index 1, needed rows in \[0, 10\)"),
        ((x, np.array([-1, 0]), out), r"'idx' got row -1 at index 0"),
        ((x, idx.astype(np.int32), out), r"'idx' got dtype int32 and shape \(2,\), needed C-contiguous int64"),
        ((x, idx[None], out), r"'idx' got dtype int64 and shape \(1, 2\)"),
        ((x.astype(np.float64), idx, out), "'src' got dtype float64, needed uint8 or float32"),
        ((np.zeros((10, 8), np.uint8)[:, ::2], idx, out), "'src' is not C-contiguous"),
        ((np.array(3, np.uint8), idx, out), "'src' got a 0-d array"),
        ((x, idx, np.empty((3, 4), np.float32)), r"'out' got shape \(3, 4\), needed \(2, 4\)"),
        ((x, idx, np.empty((2, 4), np.float64)), "'out' got dtype float64, needed float32"),
        ((x, idx, np.empty((2, 4), np.float32), 0.0), "'divisor' got 0, needed a finite non-zero"),
    ]
    for args, message in cases:
        with pytest.raises(ValueError, match=message):
            _C.gather_rows(*args)
    ro = np.empty((2, 4), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="'out' is read-only"):
        _C.gather_rows(x, idx, ro)
    f = np.zeros((10, 4), np.float32)
    with pytest.raises(ValueError, match="'out' got an array that overlaps 'src'"):
        _C.gather_rows(f, idx, f[:2])
    with pytest.raises(TypeError):
        _C.gather_rows([[1, 2]], idx, out)


# -- cross_entropy_forward_backward: loss, gradient and hits in one call

def check_forward_backward(N, K, scale, seed):
    """The fused call against the separate calls (bit for bit), float64 and numpy's argmax."""
    rng = np.random.default_rng(seed)
    z = (scale * rng.standard_normal((N, K))).astype(np.float32)
    if N > 4 and K > 2:
        z[1, :] = z[1, 0]                # a row of ties: argmax is the first
        z[2, 1] = np.float32(3e38)
        z[3, K - 1] = z[3].max()         # the maximum twice
    ids = rng.integers(0, K, N)
    ids[: N // 3] = z[: N // 3].argmax(axis=1)  # some hits whatever the logits
    g = np.full((N, K), np.nan, np.float32)
    loss, hits = _C.cross_entropy_forward_backward(z, ids, g)
    assert isinstance(loss, float) and isinstance(hits, int)
    sep = np.empty_like(g)
    _C.cross_entropy_backward(z, ids, sep)
    assert loss == _C.cross_entropy_forward(z, ids) and g.tobytes() == sep.tobytes()
    assert hits == int(np.sum(z.argmax(axis=1) == ids)) and hits / N == fastcnn.metrics.accuracy(z, ids)
    assert_close(loss, R.cross_entropy(z, ids), what="loss")
    assert_close(g, R.cross_entropy_backward(z, ids)[0], what="dlogits")


CASES = [(1, 1, 1.0), (7, 3, 30.0), (128, 10, 3.0), (96, 10, 1.0), (2000, 10, 5.0), (300, 37, 10.0)]


def check_all_forward_backward_cases():
    for i, case in enumerate(CASES):
        check_forward_backward(*case, seed=i)


@pytest.mark.parametrize("N, K, scale", CASES)
def test_forward_backward_is_the_separate_calls(N, K, scale):
    check_forward_backward(N, K, scale, seed=N + K)


@pytest.mark.parametrize("isa", fastcnn.info()["built_isas"])
def test_forward_backward_on_every_isa(isa):
    run_on_isa(isa, "test_fast_step", "check_all_forward_backward_cases")


def test_forward_backward_nan_rows_and_thread_count():
    z = randn(5000, 10, seed=6, scale=4)
    ids = np.random.default_rng(7).integers(0, 10, 5000)
    z[3, 4] = np.nan                     # numpy's argmax: the first NaN
    ids[3] = 4
    z[4, :] = np.nan
    ids[4] = 0

    def run():
        g = np.empty_like(z)
        loss, hits = _C.cross_entropy_forward_backward(z, ids, g)
        return loss, hits, g.tobytes()
    one, two = threads_1_and_2(run)
    assert one[1:] == two[1:] and np.array_equal(one[0], two[0], equal_nan=True)
    assert np.isnan(one[0]) and one[1] == int(np.sum(z.argmax(axis=1) == ids))
    assert one[1] == round(fastcnn.metrics.accuracy(z, ids) * 5000)


def test_forward_backward_empty_batch():
    loss, hits = _C.cross_entropy_forward_backward(np.zeros((0, 4), np.float32), np.zeros(0, np.int64),
                                                   np.zeros((0, 4), np.float32))
    assert np.isnan(loss) and hits == 0


def test_forward_backward_bad_arguments_name_the_argument():
    z, ids, g = randn(4, 3), np.array([0, 1, 2, 0]), np.empty((4, 3), np.float32)
    fn = "cross_entropy_forward_backward"
    cases = [
        ((z, np.array([0, 1, 3, 0]), g), r"'target' got class id 3 at index 2, needed ids in \[0, 3\)"),
        ((z, np.eye(3, dtype=np.float32)[ids], g), r"'target' got shape \(4, 3\), needed \(4,\) int64 class ids"),
        ((z, ids.astype(np.int32), g), "'target' got dtype int32, needed C-contiguous int64"),
        ((z, ids[:3], g), r"'target' got shape \(3,\), needed \(4,\)"),
        ((z, ids, np.empty((4, 4), np.float32)), r"'dlogits' got shape \(4, 4\), needed \(4, 3\)"),
        ((z, ids, g.astype(np.float64)), "'dlogits' got dtype float64, needed float32"),
        ((z.astype(np.float64), ids, g), "'logits' got dtype float64, needed float32"),
        ((z[None], ids, g), r"'logits' got shape \(1, 4, 3\), needed \(\*, \*\)"),
        ((z, ids, z), "'dlogits' got an array that overlaps 'logits'"),
    ]
    for args, message in cases:
        with pytest.raises(ValueError, match=f"{fn}: argument {message}"):
            _C.cross_entropy_forward_backward(*args)
    with pytest.raises(TypeError):
        _C.cross_entropy_forward_backward(z, ids, None)


# -- sgd_step_many: one optimizer call for every parameter

SHAPES = [(6, 1, 5, 5), (6,), (400, 120), (120,), (3, 7)]


def params_grads_velocities(seed):
    rng = np.random.default_rng(seed)
    p = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    g = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    v = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    return p, g, v


@pytest.mark.parametrize("momentum, nesterov, weight_decay", [(0.0, False, 0.0), (0.9, False, 0.0),
                                                              (0.9, True, 1e-2), (0.5, False, 1e-3)])
def test_sgd_step_many_is_sgd_step_per_parameter(momentum, nesterov, weight_decay):
    p, g, v = params_grads_velocities(8)
    p2, v2 = [a.copy() for a in p], [a.copy() for a in v]
    p64, v64 = [a.astype(np.float64) for a in p], [a.astype(np.float64) for a in v]
    for _ in range(3):
        _C.sgd_step_many(p, g, v, 0.05, momentum, nesterov, weight_decay)
        for a, b, c in zip(p2, g, v2):
            _C.sgd_step(a, b, c, 0.05, momentum, nesterov, weight_decay)
        for a, b, c in zip(p64, g, v64):
            R.sgd_step(a, b.astype(np.float64), c, 0.05, momentum, nesterov, weight_decay)
    for a, b, c, d, e, f in zip(p, p2, v, v2, p64, v64):
        assert a.tobytes() == b.tobytes() and c.tobytes() == d.tobytes()
        assert_close(a, e, 1e-5, "param")
        if momentum:
            assert_close(c, f, 1e-5, "velocity")


def test_sgd_step_many_thread_count_and_none_velocities():
    def run():
        p, g, _ = params_grads_velocities(9)
        _C.sgd_step_many(p, g, [None] * len(p), 0.1, 0.0, False, 1e-3)
        return b"".join(a.tobytes() for a in p)
    one, two = threads_1_and_2(run)
    assert one == two
    _C.sgd_step_many([], [], [], 0.1, 0.9, False, 0.0)


def test_sgd_step_many_bad_arguments_change_nothing():
    fn = "sgd_step_many"
    p, g, v = params_grads_velocities(10)
    before = [a.copy() for a in p]
    bad = [
        ((p, g[:2], v, 0.1, 0.9), "'grads' and 'velocities' got 2 and 5 arrays, needed 5"),
        ((p, g, v[:1] + v[1:], -0.1, 0.9), r"argument 'lr' got -0.1, needed a number in \[0, inf\)"),
        ((p, g[:4] + [g[0]], v, 0.1, 0.9), r"argument 'grads\[4\]' got shape \(6, 1, 5, 5\), needed \(3, 7\)"),
        ((p, g, v[:4] + [np.zeros((7, 3), np.float32)], 0.1, 0.9), r"'velocities\[4\]' got shape \(7, 3\)"),
        ((p[:4] + [p[4].astype(np.float64)], g, v, 0.1, 0.9), r"'params\[4\]' got dtype float64, needed float32"),
        ((p, g[:4] + [g[4].T], v, 0.1, 0.9), r"'grads\[4\]' got shape \(7, 3\)"),
        ((p, g, v[:4] + [None], 0.1, 0.9), r"'velocities\[4\]' got None, needed an array when momentum != 0"),
        ((p, g, v, 0.1, 0.0, True), "'nesterov' got True with momentum 0"),
    ]
    for args, message in bad:
        args = args + (False,) * (6 - len(args)) + (0.0,)
        with pytest.raises(ValueError, match=f"{fn}: .*{message}"):
            _C.sgd_step_many(*args)
    with pytest.raises(TypeError, match=r"sgd_step_many: argument 'params\[4\]' got list, needed a float32 numpy array"):
        _C.sgd_step_many(p[:4] + [[1.0]], g, v, 0.1, 0.9, False, 0.0)
    ro = p[4].copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"'params\[4\]' is read-only"):
        _C.sgd_step_many(p[:4] + [ro], g, v, 0.1, 0.9, False, 0.0)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(p, before))  # checked before any update


def make_params(seed, shapes=SHAPES):
    import types
    rng = np.random.default_rng(seed)
    return [types.SimpleNamespace(name=f"p{i}", value=rng.standard_normal(s).astype(np.float32),
                                  grad=np.zeros(s, np.float32), trainable=True) for i, s in enumerate(shapes)]


@pytest.mark.parametrize("hyper", [dict(lr=0.1), dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-2),
                                   dict(lr=0.1, momentum=0.9, schedule=optim.OneCycle(6))])
def test_sgd_step_is_the_per_parameter_path(hyper):
    """SGD.step (one call) against Optimizer.step (a call per parameter): values, state and counters;
    a frozen parameter, a float64 gradient (converted by the per-parameter path) and a state dict
    swapped in between."""
    a, b = make_params(11), make_params(11)
    opt_a, opt_b = optim.SGD(**hyper), optim.SGD(**hyper)
    rng = np.random.default_rng(12)
    for step in range(6):
        grads = [rng.standard_normal(p.value.shape).astype(np.float32) for p in a]
        if step == 3:
            a[1].trainable = b[1].trainable = False
            opt_a.load_state_dict(opt_a.state_dict())
        for p, q, g in zip(a, b, grads):
            p.grad[...] = g
            q.grad[...] = g
        if step == 4:
            a[0].grad = a[0].grad.astype(np.float64)
        opt_a.step(a)
        optim.Optimizer.step(opt_b, b)
    for p, q in zip(a, b):
        assert p.value.tobytes() == q.value.tobytes()
    sa, sb = opt_a.state_dict(), opt_b.state_dict()
    assert sa.keys() == sb.keys() and opt_a.iterations == opt_b.iterations == 6
    for k in sa:
        assert sa[k]["step"] == sb[k]["step"] and sa[k]["velocity"].tobytes() == sb[k]["velocity"].tobytes()
    assert sa["p1"]["step"] == 3 and sa["p0"]["step"] == 6


@pytest.mark.parametrize("cls, hyper", [(optim.Adam, dict(lr=1e-2, weight_decay=1e-2)),
                                        (optim.AdamW, dict(lr=1e-2)), (optim.RMSprop, dict(lr=1e-2))])
def test_adam_and_rmsprop_direct_calls_match_functional(cls, hyper, monkeypatch):
    """Adam / RMSprop call the step kernels straight for plain arrays: same bits as through F."""
    a, b = make_params(13), make_params(13)
    opt_a, opt_b = cls(**hyper), cls(**hyper)
    monkeypatch.setattr(optim, "_plain", lambda x: False)
    for i in range(3):
        for p, q in zip(a, b):
            p.grad[...] = q.grad[...] = np.random.default_rng(i).standard_normal(p.value.shape)
        opt_b.step(b)       # through fastcnn.functional (_plain patched to False)
    monkeypatch.undo()
    for i in range(3):
        for p in a:
            p.grad[...] = np.random.default_rng(i).standard_normal(p.value.shape)
        opt_a.step(a)
    for p, q in zip(a, b):
        assert p.value.tobytes() == q.value.tobytes()


# -- fit: the fused step against the general one, bit for bit

def lenet_like():
    return fastcnn.Sequential([
        fastcnn.Input((1, 28, 28)), layers.Conv2D(4, 5, padding="same", activation="tanh"), layers.MaxPool2D(2),
        layers.Conv2D(6, 5, activation="tanh"), layers.MaxPool2D(2), layers.Flatten(),
        layers.Dense(32, activation="tanh"), layers.Dense(10)])


class BatchLosses(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_batch_end(self, batch, logs=None):
        self.seen.append((batch, logs["loss"], logs["size"]))


def train(fused, x, y, metrics=("accuracy",), opt=None, epochs=2, batch_size=32, shuffle=True, verbose=0):
    fastcnn.seed(5)
    model = lenet_like()
    model.compile(opt or optim.SGD(0.05, momentum=0.9), metrics=metrics)
    model._fuse_loss_step = fused
    calls = []
    fused_loss = model._fused_loss
    model._fused_loss = lambda *a: calls.append(1) or fused_loss(*a)
    rec = BatchLosses()
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, callbacks=[rec], verbose=verbose,
                        shuffle=shuffle, validation_data=(x[:40], y[:40]))
    weights = b"".join(p.value.tobytes() for p in model.parameters())
    state = b"".join(v.tobytes() for s in model.optimizer.state_dict().values() for v in s.values())
    h = {k: v for k, v in history.history.items() if k != "seconds"}
    takes_fused = fused and all(fn is fastcnn.metrics.accuracy for _, fn in model.metric_fns)
    assert len(calls) == (len(rec.seen) if takes_fused else 0)
    return weights, state, h, rec.seen, model


@pytest.mark.parametrize("kind", ["uint8", "float32"])
@pytest.mark.parametrize("metrics", [("accuracy",), (), ("acc", "accuracy")])
def test_fit_fused_step_is_the_general_step_bit_for_bit(kind, metrics):
    rng = np.random.default_rng(14)
    x = rng.integers(0, 256, (150, 28, 28), dtype=np.uint8)   # 150 = 4 batches of 32 and one of 22
    if kind == "float32":
        x = x[:, None].astype(np.float32) / 255
    y = rng.integers(0, 10, 150)
    fused = train(True, x, y, metrics)
    general = train(False, x, y, metrics)
    assert fused[0] == general[0] and fused[1] == general[1]
    assert fused[2] == general[2] and fused[3] == general[3]   # history and on_batch_end, exactly
    assert len(fused[3]) == 10 and fused[3][4][2] == 22
    names = {"accuracy"} if metrics else set()
    assert set(fused[2]) == {"loss", "val_loss"} | names | {f"val_{m}" for m in names}


def test_fit_fused_step_other_cases():
    """Unshuffled (slices), one-hot targets and a user metric (general path), verbose progress."""
    rng = np.random.default_rng(15)
    x = rng.integers(0, 256, (70, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, 70)
    assert train(True, x, y, shuffle=False)[:4] == train(False, x, y, shuffle=False)[:4]
    assert train(True, x, y, opt=optim.Adam(1e-3))[:4] == train(False, x, y, opt=optim.Adam(1e-3))[:4]

    def top1(out, t):
        return fastcnn.metrics.accuracy(out, t)
    assert train(True, x, y, metrics=[top1])[:4] == train(False, x, y, metrics=[top1])[:4]
    onehot = np.eye(10, dtype=np.float32)[y]
    model = lenet_like()
    model.compile("sgd")
    assert not model._fused_loss_applies(onehot) and model._fused_loss_applies(y)
    model.compile("sgd", metrics=[top1])
    assert not model._fused_loss_applies(y)


def test_fit_verbose_progress_still_shows_running_logs(capsys):
    rng = np.random.default_rng(16)
    x = rng.integers(0, 256, (64, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, 64)
    h = train(True, x, y, epochs=1, batch_size=8, verbose=1)[2]
    out = capsys.readouterr()
    text = out.out + out.err
    assert f"loss: {h['loss'][0]:.4f}" in text and f"accuracy: {h['accuracy'][0]:.4f}" in text
    train(True, x, y, epochs=1, batch_size=8, verbose=2)
    assert "Epoch 1/1 - loss" in capsys.readouterr().out
