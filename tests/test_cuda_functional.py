"""Every functional op, forward and backward, on device arrays vs the CPU (and the float64 references
for conv/linear under each precision). Runs on the numpy-backed fake always and on the real CUDA
module where a GPU is present (the cuda_backend fixture in conftest.py)."""
import sys

import numpy as np
import pytest

import fake_cuda
import fastcnn
import fastcnn.cuda
import fastcnn.functional as F
import importlib
from reference._util import rel_err

pytestmark = pytest.mark.usefixtures("one_thread")

rconv = importlib.import_module("reference.conv")
rlinear = importlib.import_module("reference.linear")
TOL = {"fp32": 1e-5, "tf32": 1e-3, "bf16": 1e-2}


def rnd(*shape, seed=0, lo=-1.0, hi=1.0):
    return np.random.default_rng(seed + len(shape)).uniform(lo, hi, shape).astype(np.float32)


X4, W4, B4 = rnd(2, 4, 9, 9), rnd(6, 2, 3, 3, seed=1), rnd(6, seed=2)
X3, W3 = rnd(2, 4, 11), rnd(6, 4, 3, seed=3)
WT = rnd(4, 3, 3, 3, seed=4)
X2, W2, B2 = rnd(5, 7), rnd(3, 7, seed=5), rnd(3, seed=6)
POS = rnd(2, 3, 4, 4, seed=7, lo=0.1, hi=1.0)
LABELS = np.array([0, 2, 1, 2, 0], np.int64)

# (op, positional args, keyword args): arrays among the args go to the device
CASES = [
    (F.conv2d, (X4, W4, B4), dict(stride=2, padding=1, groups=2)),
    (F.conv2d_backward, (rnd(2, 6, 5, 5), X4, W4, B4), dict(stride=2, padding=1, groups=2)),
    (F.conv1d, (X3, W3, B4), dict(padding="same")),
    (F.conv1d_backward, (rnd(2, 6, 11), X3, W3, B4), dict(padding="same")),
    (F.conv_transpose2d, (X4, WT, None), dict(stride=2, padding=1)),
    (F.conv_transpose2d_backward, (rnd(2, 3, 17, 17), X4, WT, None), dict(stride=2, padding=1)),
    (F.linear, (X2, W2, B2), {}),
    (F.linear_backward, (rnd(5, 3), X2, W2, B2), {}),
    (F.max_pool2d, (X4, 3), dict(stride=2, padding=1)),
    (F.max_pool2d_backward, (rnd(2, 4, 5, 5), X4, 3), dict(stride=2, padding=1)),
    (F.avg_pool2d, (X4, 2), dict(ceil_mode=True, count_include_pad=False)),
    (F.avg_pool2d_backward, (rnd(2, 4, 5, 5), X4, 2), dict(ceil_mode=True, count_include_pad=False)),
    (F.max_pool1d, (X3, 2), {}),
    (F.max_pool1d_backward, (rnd(2, 4, 5), X3, 2), {}),
    (F.avg_pool1d, (X3, 3), dict(stride=2)),
    (F.avg_pool1d_backward, (rnd(2, 4, 5), X3, 3), dict(stride=2)),
    (F.global_avg_pool2d, (X4,), {}),
    (F.global_avg_pool2d_backward, (rnd(2, 4), X4), {}),
    (F.relu, (X4,), {}), (F.relu_backward, (rnd(*X4.shape), X4), {}),
    (F.leaky_relu, (X4, 0.2), {}), (F.leaky_relu_backward, (rnd(*X4.shape), X4, 0.2), {}),
    (F.prelu, (X4, rnd(4)), {}), (F.prelu_backward, (rnd(*X4.shape), X4, rnd(4)), {}),
    (F.elu, (X4, 0.7), {}), (F.elu_backward, (rnd(*X4.shape), X4, 0.7), {}),
    (F.sigmoid, (X4,), {}), (F.sigmoid_backward, (rnd(*X4.shape), X4), {}),
    (F.tanh, (X4,), {}), (F.tanh_backward, (rnd(*X4.shape), X4), {}),
    (F.softmax, (X4,), dict(axis=1)), (F.softmax_backward, (rnd(*X4.shape), X4), dict(axis=3)),
    (F.log_softmax, (X2,), {}), (F.log_softmax_backward, (rnd(5, 7), X2), {}),
    (F.rrelu, (X4,), dict(training=True, seed=7)), (F.rrelu, (X4,), dict(training=False)),
    (F.rrelu_backward, (rnd(*POS.shape), POS), {}),
    (F.dropout, (X4, 0.3), dict(seed=11)), (F.dropout, (X4, 0.3, False), {}),
    (F.batch_norm, (X4, rnd(4), rnd(4), rnd(4), POS[0, 0, 0]), dict(training=False)),
    (F.batch_norm_backward, (rnd(*X4.shape), X4, rnd(4), rnd(4), None, None), dict(training=True)),
    (F.batch_norm_backward, (rnd(*X4.shape), X4, rnd(4), None, rnd(4), POS[0, 0, 0]), dict(training=False)),
    (F.local_response_norm, (X4, 3), {}), (F.local_response_norm_backward, (rnd(*X4.shape), X4, 3), {}),
    (F.cross_entropy, (X2, LABELS[:5] % 7), {}), (F.cross_entropy_backward, (X2, LABELS[:5] % 7), {}),
    (F.cross_entropy, (X2, POS.reshape(-1)[:35].reshape(5, 7)), {}),
    (F.cross_entropy_backward, (X2, POS.reshape(-1)[:35].reshape(5, 7)), {}),
]


def _dev(a):
    return fastcnn.cuda.to_device(a) if isinstance(a, np.ndarray) else a


def _host(r):
    if isinstance(r, (tuple, list)):
        return [_host(e) for e in r]
    return r.numpy() if fastcnn.cuda.is_device_array(r) else r


def _assert_same(got, want, exact: bool, what: str):
    if isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(want), what
        for i, (g, w) in enumerate(zip(got, want)):
            _assert_same(g, w, exact, f"{what}[{i}]")
    elif want is None or isinstance(want, float):
        assert (got is None) if want is None else abs(got - want) <= 1e-5 * max(1.0, abs(want)), what
    else:
        assert isinstance(got, np.ndarray) and got.shape == want.shape and got.dtype == want.dtype, what
        if exact or want.dtype != np.float32:
            np.testing.assert_array_equal(got, want, err_msg=what)
        else:
            assert rel_err(got, want) <= 1e-5, what


@pytest.mark.parametrize("op, args, kwargs", CASES, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_op_on_device_matches_cpu(cuda_backend, op, args, kwargs):
    want = op(*[a.copy() if isinstance(a, np.ndarray) else a for a in args], **kwargs)
    got = op(*[_dev(a) for a in args], **kwargs)
    for r in (got if isinstance(got, tuple) else (got,)):
        assert r is None or isinstance(r, float) or fastcnn.cuda.is_device_array(r), type(r)
    _assert_same(_host(got), want, cuda_backend is fake_cuda, op.__name__)


def test_batch_norm_training_updates_running_stats_on_device(cuda_backend):
    gamma, beta = rnd(4, seed=1), rnd(4, seed=2)
    mean, var = rnd(4, seed=3), POS[0, 0, 0].copy()
    dmean, dvar = _dev(mean), _dev(var)
    want = F.batch_norm(X4, gamma, beta, mean, var, training=True, momentum=0.2)
    got = F.batch_norm(_dev(X4), _dev(gamma), _dev(beta), dmean, dvar, training=True, momentum=0.2)
    assert rel_err(got.numpy(), want) <= 1e-5
    assert rel_err(dmean.numpy(), mean) <= 1e-5 and rel_err(dvar.numpy(), var) <= 1e-5


@pytest.mark.parametrize("step, slots, kwargs", [
    (F.sgd_step, 1, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (F.adam_step, 2, dict(step=3, lr=0.01, weight_decay=0.01, decoupled=True)),
    (F.rmsprop_step, 1, dict(lr=0.01)),
])
def test_optimizer_steps_on_device(cuda_backend, step, slots, kwargs):
    param, grad = rnd(3, 5, seed=1), rnd(3, 5, seed=2)
    state = [rnd(3, 5, seed=3 + i, lo=0.0) for i in range(slots)]
    dparam, dstate = _dev(param), [_dev(s) for s in state]
    step(param, grad, *state, **kwargs)
    step(dparam, _dev(grad), *dstate, **kwargs)
    assert rel_err(dparam.numpy(), param) <= 1e-5
    for d, s in zip(dstate, state):
        assert rel_err(d.numpy(), s) <= 1e-5


def test_cross_entropy_sum_into_on_device(cuda_backend):
    total = fastcnn.cuda.zeros((1,))
    F.loss.cross_entropy_sum_into(_dev(X2), _dev(LABELS), total, 0.5)
    F.loss.cross_entropy_sum_into(_dev(X2), _dev(LABELS), total, 1.0)
    assert abs(total.numpy()[0] - 1.5 * 5 * F.cross_entropy(X2, LABELS)) <= 1e-5 * 10


def test_cross_entropy_sum_into_no_rows_adds_nothing(cuda_backend):
    # the device kernel skips an empty batch; the host path and the fake must agree (not NaN)
    host_total = np.array([2.0], np.float32)
    F.loss.cross_entropy_sum_into(X2[:0], LABELS[:0], host_total)
    total = fastcnn.cuda.to_device(np.array([2.0], np.float32))
    F.loss.cross_entropy_sum_into(_dev(X2[:0]), _dev(LABELS[:0]), total)
    assert host_total[0] == 2.0 and total.numpy()[0] == 2.0


@pytest.mark.parametrize("precision", ["fp32", "tf32", "bf16"])
def test_conv_and_linear_vs_float64_reference_under_precision(cuda_backend, precision):
    before = fastcnn.get_precision()
    fastcnn.set_precision(precision)
    try:
        assert cuda_backend.get_precision() == precision  # pushed to the loaded module
        tol = TOL[precision]
        y = F.conv2d(_dev(X4), _dev(W4), _dev(B4), stride=2, padding=1, groups=2).numpy()
        assert rel_err(y, rconv.conv2d(X4, W4, B4, stride=2, padding=1, groups=2)) <= tol
        dy = rnd(2, 6, 5, 5)
        got = F.conv2d_backward(_dev(dy), _dev(X4), _dev(W4), _dev(B4), stride=2, padding=1, groups=2)
        want = rconv.conv2d_backward(dy, X4, W4, B4, stride=2, padding=1, groups=2)
        for g, w in zip(got, want):
            assert rel_err(g.numpy(), w) <= tol
        assert rel_err(F.linear(_dev(X2), _dev(W2), _dev(B2)).numpy(), rlinear.linear(X2, W2, B2)) <= tol
        dy2 = rnd(5, 3)
        for g, w in zip(F.linear_backward(_dev(dy2), _dev(X2), _dev(W2), _dev(B2)),
                        rlinear.linear_backward(dy2, X2, W2, B2)):
            assert rel_err(g.numpy(), w) <= tol
    finally:
        fastcnn.set_precision(before)


def test_out_on_device(cuda_backend):
    x, w = _dev(X4), _dev(W4)
    y = fastcnn.cuda.empty((2, 6, 5, 5))
    assert F.conv2d(x, w, stride=2, padding=1, groups=2, out=y) is y
    np.testing.assert_allclose(y.numpy(), F.conv2d(X4, W4, stride=2, padding=1, groups=2), rtol=1e-5, atol=1e-6)
    dx, dw = fastcnn.cuda.empty(X4.shape), fastcnn.cuda.empty(W4.shape)
    r = F.conv2d_backward(_dev(rnd(2, 6, 5, 5)), x, w, stride=2, padding=1, groups=2, out=(dx, dw, None))
    assert r[0] is dx and r[1] is dw and r[2] is None
    r = F.relu(x, out=fastcnn.cuda.empty(X4.shape))
    assert np.array_equal(r.numpy(), np.maximum(X4, 0))
    with pytest.raises(ValueError, match="'out'.*shape"):
        F.relu(x, out=fastcnn.cuda.empty((2, 4)))
    with pytest.raises(ValueError, match="'out'.*overlaps 'x'"):
        F.relu(x, out=x)
    with pytest.raises(ValueError, match="'out'.*dtype"):
        F.relu(x, out=fastcnn.cuda.empty(X4.shape, "int32"))


def test_mixing_host_and_device_is_an_error(cuda_backend):
    x, w = _dev(X4), _dev(W4)
    with pytest.raises(ValueError, match=r"conv2d: argument 'w' got a numpy array, needed a device array "
                                         r"like 'x' \(fastcnn.cuda.to_device\)"):
        F.conv2d(x, W4)
    with pytest.raises(ValueError, match="argument 'w' got a device array, needed a host"):
        F.conv2d(X4, w)
    with pytest.raises(ValueError, match="'b' got a numpy array"):
        F.conv2d(x, w, B4[:6])
    with pytest.raises(ValueError, match="'out' got a numpy array"):
        F.relu(x, out=np.empty(X4.shape, np.float32))
    with pytest.raises(ValueError, match="'out' got a device array"):
        F.relu(X4, out=fastcnn.cuda.empty(X4.shape))
    with pytest.raises(ValueError, match=r"'out\[1\]' got a numpy array"):
        F.linear_backward(_dev(rnd(5, 3)), _dev(X2), _dev(W2), out=(None, np.empty(W2.shape, np.float32), None))
    with pytest.raises(ValueError, match="'grad' got a numpy array"):
        F.sgd_step(_dev(X2), X2, None, 0.1)
    with pytest.raises(ValueError, match="'target' got a numpy array"):
        F.cross_entropy(_dev(X2), LABELS)
    with pytest.raises(ValueError, match="'mask' got a numpy array"):
        F.dropout_backward(_dev(X4), np.ones(X4.shape, np.uint8), 0.5)


def test_device_dtype_and_shape_checks(cuda_backend):
    with pytest.raises(ValueError, match="relu: argument 'x' got a device array of dtype uint8, needed float32"):
        F.relu(fastcnn.cuda.to_device(np.zeros(3, np.uint8)))
    with pytest.raises(ValueError, match=r"conv2d: argument 'x' got shape \(2, 4, 9\)"):
        F.conv2d(_dev(X3[:, :, :9]), _dev(W4))
    with pytest.raises(ValueError, match="'dy'"):
        F.relu_backward(_dev(rnd(3)), _dev(X4))
    with pytest.raises(ValueError, match="'target'.*int64 class ids"):
        F.cross_entropy(_dev(X2), fastcnn.cuda.to_device(LABELS.astype(np.int32)))
    with pytest.raises(ValueError, match="'param'.*dtype"):
        F.sgd_step(fastcnn.cuda.to_device(np.zeros(3, np.int32)), _dev(rnd(3)), None, 0.1)


def test_empty_batch_on_device(cuda_backend):
    y = F.conv2d(_dev(np.zeros((0, 4, 9, 9), np.float32)), _dev(W4), groups=2)
    assert y.shape == (0, 6, 7, 7) and y.numpy().shape == (0, 6, 7, 7)


def test_device_array_is_not_numpy(fake_cuda):
    x = _dev(X4)
    assert (x.shape, x.dtype, x.ndim, x.size, x.nbytes, len(x)) == (X4.shape, np.float32, 4, X4.size, X4.nbytes, 2)
    with pytest.raises(TypeError):
        np.asarray(x)
    with pytest.raises(TypeError):
        np.add(x, x)
    with pytest.raises(TypeError):
        x + x
    h = x.numpy()
    h[:] = 0
    assert x.numpy().any()  # numpy() is a copy
    assert x.reshape((2, -1)).shape == (2, 324) and x[1:2].shape == (1, 4, 9, 9)
    with pytest.raises(TypeError):
        x[0]


def test_every_kernel_the_python_layer_calls_is_on_the_cuda_module(cuda_backend):
    """KERNELS (fake_cuda.py) lists every kernel name python/fastcnn calls on a kernel module: the
    fake and the real module must provide all of them, with the runtime and tensor helpers."""
    import pathlib
    import re
    root = pathlib.Path(fastcnn.__file__).parent
    called = set()
    for path in root.rglob("*.py"):
        text = path.read_text()
        called |= set(re.findall(r"\bK\.(\w+)\(", text))
        called |= set(re.findall(r'_unary(?:_backward)?\([^,]+, "(\w+)"', text))
        called |= set(re.findall(r"\b(?:cuda|self\.cuda|self\._cuda|data\.cuda)\.(\w+)\(", text))
    # fastcnn.cuda's own functions (is_available, ...) are not calls on the module
    kernel_calls = called - set(fake_cuda.RUNTIME + fake_cuda.TENSOR_HELPERS) - set(dir(fastcnn.cuda))
    assert kernel_calls <= set(fake_cuda.KERNELS + fake_cuda.EXTRA_KERNELS), kernel_calls
    assert set(fake_cuda.KERNELS) <= {n for n in dir(fastcnn._C)}
    for name in fake_cuda.KERNELS + fake_cuda.EXTRA_KERNELS + fake_cuda.RUNTIME + fake_cuda.TENSOR_HELPERS:
        assert hasattr(cuda_backend, name), name


def test_import_fastcnn_does_not_load_the_cuda_module():
    import subprocess
    code = ("import sys, fastcnn, fastcnn.functional as F, numpy as np; F.relu(np.ones(3)); "
            "assert 'fastcnn._C_cuda' not in sys.modules, 'loaded'")
    subprocess.run([sys.executable, "-c", code], check=True, env={**__import__("os").environ,
                   "PYTHONPATH": str(__import__("pathlib").Path(fastcnn.__file__).parent.parent)})


def test_without_cuda_everything_says_why(monkeypatch):
    def missing():
        raise ModuleNotFoundError("No module named 'fastcnn._C_cuda'", name="fastcnn._C_cuda")
    fastcnn.cuda._reset()
    monkeypatch.setattr(fastcnn.cuda, "_import_module", missing)
    try:
        assert not fastcnn.cuda.is_available() and fastcnn.cuda.device_count() == 0
        why = "fastcnn was built without CUDA (no nvcc at build time)"
        assert fastcnn.cuda.why_unavailable() == why
        for call in (lambda: fastcnn.cuda.to_device(X2), lambda: fastcnn.cuda.empty(3), fastcnn.cuda.synchronize,
                     lambda: fastcnn.cuda.DeviceArray):
            with pytest.raises(RuntimeError, match=r"built without CUDA \(no nvcc"):
                call()
        info = fastcnn.info()["cuda"]
        assert info["built"] is False and info["available"] is False and info["reason"] == why
        fastcnn.cuda._reset()

        class NoDriver:
            @staticmethod
            def status():
                return False, "no CUDA driver: libcuda.so.1 not found"
        monkeypatch.setattr(fastcnn.cuda, "_import_module", lambda: NoDriver)
        assert fastcnn.cuda.why_unavailable().startswith("no CUDA driver")
        with pytest.raises(RuntimeError, match="no CUDA driver"):
            fastcnn.cuda.zeros(3)
        assert fastcnn.info()["cuda"]["built"] is True
    finally:
        fastcnn.cuda._reset()


def test_set_precision_is_validated_and_stored():
    assert fastcnn.get_precision() == "fp32"
    with pytest.raises(ValueError, match="set_precision: argument 'precision' got 'fp16'"):
        fastcnn.set_precision("fp16")
    with pytest.raises(TypeError, match="'precision'"):
        fastcnn.set_precision(16)
    fastcnn.set_precision("BF16")
    try:
        assert fastcnn.get_precision() == "bf16" and fastcnn.info()["cuda"]["precision"] == "bf16"
    finally:
        fastcnn.set_precision("fp32")
    fastcnn.cuda._reset()


def test_info_on_the_fake(fake_cuda):
    info = fastcnn.info()["cuda"]
    assert info == {"built": True, "available": True, "reason": None, "device": "fake", "precision": "fp32"}
    assert fastcnn.cuda.device_count() == 1 and fastcnn.cuda.memory_info()
    z = fastcnn.cuda.zeros((2, 3), "int64")
    assert z.dtype == np.int64 and not z.numpy().any()
    assert fastcnn.cuda.to_device(z) is z
    assert fastcnn.cuda.to_device([[1, 2]]).dtype == np.int64 and fastcnn.cuda.to_device([1.5]).dtype == np.float32
    with pytest.raises(ValueError, match="'dtype'"):
        fastcnn.cuda.empty(3, "float64")
