"""Models on the device: model.to round trips, forward/backward of a graph with merges, LeNet-5 fit /
evaluate / predict on MNIST sample images vs the CPU, save/load from the device, CLI --device.
Runs on the numpy-backed fake always (where results must match the CPU exactly, as the same kernels
run) and on the real CUDA module where a GPU is present."""
import json

import numpy as np
import pytest

import fake_cuda
import fastcnn
import fastcnn.cuda
from fastcnn import callbacks, cli, layers, optim
from fastcnn.datasets import mnist
from fastcnn.models import lenet5

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits():
    (x, y), _ = mnist.load_sample()
    return x[:320], y[:320]


def graph_model():
    """Conv, BN, Concatenate, Add, Dropout, Flatten, Dense: every kind of layer-level array math."""
    inp = fastcnn.Input((1, 12, 12))
    a = layers.Conv2D(4, 3, padding="same", activation="relu")(inp)
    b = layers.BatchNorm()(layers.Conv2D(4, 1)(inp))
    c = layers.Concatenate()([a, b])
    d = layers.Add()([layers.Conv2D(8, 3, padding="same")(c), c])
    e = layers.Dropout(0.25)(layers.Flatten()(layers.MaxPool2D(2)(d)))
    return fastcnn.Model(inp, layers.Dense(5)(layers.Dense(16, activation="tanh")(e)))


def host(a):
    return a.numpy() if fastcnn.cuda.is_device_array(a) else a


def arrays(model):
    return [host(p.value) for p in model.parameters()] + [host(p.grad) for p in model.parameters()] + \
        [host(a) for _, a in model.state_arrays()]


def close(got, want, exact, tol=1e-4):
    if exact:
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_to_round_trip_moves_params_grads_state_and_optimizer(cuda_backend):
    fastcnn.seed(3)
    model = graph_model()
    model.compile(optim.Adam(1e-3))
    x = np.random.default_rng(0).random((6, 1, 12, 12), np.float32)
    model.fit(x, np.arange(6) % 5, batch_size=3, verbose=0)
    before = arrays(model)
    slots = model.optimizer.state_dict()
    assert model.to("cuda") is model and model.device == "cuda"
    for p in model.parameters():
        assert fastcnn.cuda.is_device_array(p.value) and fastcnn.cuda.is_device_array(p.grad)
    assert all(fastcnn.cuda.is_device_array(a) for _, a in model.state_arrays())
    assert all(fastcnn.cuda.is_device_array(st["m"]) for st in model.optimizer.state.values())
    model.to("cpu")
    assert model.device == "cpu"
    for got, want in zip(arrays(model), before):
        assert isinstance(got, np.ndarray)
        np.testing.assert_array_equal(got, want)
    for name, st in model.optimizer.state_dict().items():
        np.testing.assert_array_equal(st["v"], slots[name]["v"])
    with pytest.raises(ValueError, match="'device' got 'gpu'"):
        model.to("gpu")


def test_graph_forward_backward_on_device_matches_cpu(cuda_backend):
    x = np.random.default_rng(1).random((4, 1, 12, 12), np.float32)
    dy = np.random.default_rng(2).random((4, 5), np.float32)
    fastcnn.seed(5)
    cpu = graph_model()
    fastcnn.seed(9)
    y_cpu = cpu.forward(x, training=True)[0].copy()
    cpu.backward([dy])
    want = arrays(cpu)
    fastcnn.seed(5)
    model = graph_model().to("cuda")
    fastcnn.seed(9)  # the same dropout seed: the same mask on both devices
    y = model.forward(fastcnn.cuda.to_device(x), training=True)[0]
    assert fastcnn.cuda.is_device_array(y)
    model.backward(fastcnn.cuda.to_device(dy))
    exact = cuda_backend is fake_cuda
    close(y.numpy(), y_cpu, exact, 1e-5)
    for got, w in zip(arrays(model), want):
        close(got, w, exact)
    with pytest.raises(ValueError, match="'x' got a numpy array, needed a device array: the model is on cuda"):
        model.forward(x)


def _lenet_run(x, y, device, epochs=1):
    fastcnn.seed(0)
    model = lenet5()
    model.compile(optim.SGD(0.05, momentum=0.9), metrics=["accuracy"])
    model.to(device)
    history = model.fit(x, y, batch_size=32, epochs=epochs, verbose=0, validation_data=(x[:64], y[:64]))
    return model, history.history


def test_lenet_fit_on_device_gives_the_cpu_history(cuda_backend, digits):
    x, y = digits
    xf = x[:, None].astype(np.float32) / 255   # float input: batches are exact copies on the device
    cpu, h_cpu = _lenet_run(xf, y, "cpu")
    dev, h_dev = _lenet_run(xf, y, "cuda")
    exact = cuda_backend is fake_cuda
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        # the device sums the epoch in float32, the CPU in float64
        assert h_dev[key][0] == pytest.approx(h_cpu[key][0], rel=1e-6 if exact else 1e-3), key
    for got, want in zip(arrays(dev), arrays(cpu)):
        close(got, want, exact, 1e-3)
    p = dev.predict(xf[:70], batch_size=32)
    assert isinstance(p, np.ndarray) and p.shape == (70, 10)
    close(p, cpu.predict(xf[:70], batch_size=32), exact, 1e-3)
    loss, acc = dev.evaluate(xf[:100], y[:100])
    ref = cpu.evaluate(xf[:100], y[:100])
    assert loss == pytest.approx(ref[0], rel=1e-5 if exact else 1e-3) and acc == pytest.approx(ref[1], abs=0.02)


def test_lenet_fit_on_uint8_and_one_hot_targets(cuda_backend, digits):
    x, y = digits
    _, h_cpu = _lenet_run(x, y, "cpu")
    _, h_dev = _lenet_run(x, y, "cuda")   # uint8 stays uint8 on the device, take_rows scales by 1/255
    assert h_dev["loss"][0] == pytest.approx(h_cpu["loss"][0], rel=1e-3)
    one_hot = np.eye(10, dtype=np.float32)[y]
    _, h_hot = _lenet_run(x, one_hot, "cuda")
    assert h_hot["loss"][0] == pytest.approx(h_dev["loss"][0], rel=1e-5 if cuda_backend is fake_cuda else 1e-4)
    assert h_hot["accuracy"][0] == pytest.approx(h_dev["accuracy"][0], abs=1e-6)


def test_aux_outputs_shuffle_off_and_progress_bar_on_device(cuda_backend, digits, capsys):
    x, y = digits
    xf = x[:96, None].astype(np.float32) / 255

    def run(device):
        fastcnn.seed(2)
        inp = fastcnn.Input((1, 28, 28))
        h = layers.Flatten()(layers.MaxPool2D(4)(inp))
        main = layers.Dense(10)(layers.Dense(16, activation="relu")(h))
        model = fastcnn.Model(inp, main, aux_outputs=[layers.Dense(10)(h)], aux_loss_weight=0.3)
        model.compile(optim.SGD(0.1))
        model.to(device)
        return model.fit(xf, y[:96], batch_size=40, epochs=2, shuffle=False, verbose=1).history

    want, got = run("cpu"), run("cuda")
    exact = cuda_backend is fake_cuda
    for key in ("loss", "accuracy"):
        assert got[key] == pytest.approx(want[key], rel=1e-6 if exact else 1e-3), key
    out = capsys.readouterr()
    assert (out.out + out.err).count("Epoch 2/2") >= 2 and "loss" in out.out + out.err


class LazyImages:
    """A data set that makes its batches on demand (fit's lazy inputs): float32 scaled images."""

    def __init__(self, x):
        self.x, self.shape, self.dtype, self.ndim = x, (len(x), 1, 28, 28), np.dtype(np.float32), 4

    def __len__(self):
        return len(self.x)

    def __getitem__(self, index):
        return self.x[index, None].astype(np.float32) / 255


def test_lazy_inputs_and_device_arrays_as_data(cuda_backend, digits):
    x, y = digits
    xf = x[:96, None].astype(np.float32) / 255
    _, want = _lenet_run(xf, y[:96], "cpu")
    _, lazy = _lenet_run(LazyImages(x[:96]), y[:96], "cuda")
    _, on_device = _lenet_run(fastcnn.cuda.to_device(xf), y[:96], "cuda")
    for got in (lazy, on_device):
        assert got["loss"][0] == pytest.approx(want["loss"][0], rel=1e-6 if cuda_backend is fake_cuda else 1e-3)


def test_batch_callbacks_and_custom_metrics_on_device(cuda_backend, digits):
    x, y = digits

    class Losses(callbacks.Callback):
        seen = []

        def on_batch_end(self, batch, logs=None):
            self.seen.append(logs["loss"])

    def top1(output, target):  # a custom metric gets host arrays
        assert isinstance(output, np.ndarray) and isinstance(target, np.ndarray)
        return float(np.mean(output.argmax(axis=1) == target))

    fastcnn.seed(0)
    model = lenet5()
    model.compile("sgd", metrics=["accuracy", top1])
    model.to("cuda")
    h = model.fit(x[:96], y[:96], batch_size=32, verbose=0, callbacks=[Losses()]).history
    assert len(Losses.seen) == 3 and all(np.isfinite(Losses.seen))
    assert h["top1"][0] == pytest.approx(h["accuracy"][0], abs=1e-6)


def test_save_from_device_and_load_then_to(cuda_backend, digits, tmp_path):
    x, y = digits
    xf = x[:64, None].astype(np.float32) / 255
    model, _ = _lenet_run(xf, y[:64], "cuda")
    want = model.predict(xf)
    model.save(tmp_path / "m.npz")
    loaded = fastcnn.load_model(tmp_path / "m.npz")
    assert loaded.device == "cpu"
    np.testing.assert_allclose(loaded.predict(xf), want, rtol=1e-4, atol=1e-5)
    loaded.to("cuda")
    close(loaded.predict(xf), want, cuda_backend is fake_cuda, 1e-5)
    loaded.fit(xf, y[:64], batch_size=32, epochs=2, initial_epoch=1, verbose=0)  # resumes on the device


def test_early_stopping_restores_weights_on_device(cuda_backend, digits):
    x, y = digits
    xf = x[:64, None].astype(np.float32) / 255
    fastcnn.seed(0)
    model = lenet5()
    model.compile(optim.SGD(5.0))   # diverges: the best epoch is the first
    model.to("cuda")
    stop = callbacks.EarlyStopping("loss", patience=1, restore_best_weights=True)
    model.fit(xf, y[:64], epochs=4, verbose=0, callbacks=[stop])
    assert all(fastcnn.cuda.is_device_array(p.value) for p in model.parameters())


def test_to_cuda_without_cuda_says_why(monkeypatch):
    def missing():
        raise ModuleNotFoundError("No module named 'fastcnn._C_cuda'", name="fastcnn._C_cuda")
    fastcnn.cuda._reset()
    monkeypatch.setattr(fastcnn.cuda, "_import_module", missing)
    try:
        with pytest.raises(RuntimeError, match=r"built without CUDA \(no nvcc at build time\)"):
            lenet5().to("cuda")
    finally:
        fastcnn.cuda._reset()


def test_cli_device_cuda_without_cuda_is_a_usage_error(monkeypatch, capsys, tmp_path):
    def missing():
        raise ModuleNotFoundError("No module named 'fastcnn._C_cuda'", name="fastcnn._C_cuda")
    fastcnn.cuda._reset()
    monkeypatch.setattr(fastcnn.cuda, "_import_module", missing)
    try:
        with pytest.raises(SystemExit) as e:
            cli.main(["train", "lenet5", "--device", "cuda", "--out", str(tmp_path)])
        assert e.value.code == 2
        assert "argument --device: CUDA is not available: fastcnn was built without CUDA" in capsys.readouterr().err
    finally:
        fastcnn.cuda._reset()


def test_cli_trains_and_resumes_on_device(cuda_backend, capsys, tmp_path, data_dir):
    out = tmp_path / "run"
    common = ["--limit", "200", "--batch-size", "50", "--data", str(data_dir), "--out", str(out), "--quiet",
              "--device", "cuda"]
    assert cli.main(["train", "lenet5", "--epochs", "1", *common]) == 0
    assert "lenet5 on cuda" in capsys.readouterr().out
    assert cli.main(["train", "lenet5", "--epochs", "2", "--resume", str(out / "model"), *common]) == 0
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2] and history[1]["loss"] > 0
