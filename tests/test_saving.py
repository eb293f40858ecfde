"""model.save / fastcnn.load_model: round trip, exact resume, atomic writes, damaged files."""
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import fastcnn
from fastcnn import layers, optim, saving
from fastcnn.datasets import mnist



@pytest.fixture(scope="module")
def digits():
    (x, y), _ = mnist.load_sample()
    return x[:300], y[:300]


def small_model():
    """Conv + BN (moving statistics) + dropout (randomness): everything resume must line up."""
    model = fastcnn.Sequential([layers.Conv2D(4, 5, strides=2), layers.BatchNorm(), layers.ReLU(),
                                layers.MaxPool2D(2), layers.Flatten(), layers.Dropout(0.3), layers.Dense(10)])
    model.build((1, 28, 28))
    return model


def all_arrays(model):
    return [p.value for p in model.parameters()] + [a for _, a in model.state_arrays()]


def test_save_load_identical_predictions(digits, tmp_path):
    x, y = digits
    fastcnn.seed(0)
    model = fastcnn.models.lenet5()
    model.compile(optim.Adam(1e-3))
    model.fit(x, y, batch_size=50, verbose=0)
    path = tmp_path / "lenet.npz"
    model.save(path)
    loaded = fastcnn.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x[:40]), model.predict(x[:40]))
    assert loaded.epochs_done == 1 and isinstance(loaded.optimizer, optim.Adam)
    assert loaded.get_config() == model.get_config()
    with np.load(path, allow_pickle=False) as z:      # nothing in it needs pickle
        assert all(z[k].dtype != object for k in z.files)


@pytest.mark.parametrize("make_optimizer", [
    lambda: optim.SGD(0.05, momentum=0.9, nesterov=True, weight_decay=1e-4),
    lambda: optim.Adam(2e-3, schedule=optim.OneCycle(18)),
    lambda: optim.RMSprop(1e-3),
], ids=["sgd", "adam-onecycle", "rmsprop"])
def test_resume_equals_uninterrupted(digits, tmp_path, make_optimizer):
    x, y = digits
    fastcnn.seed(7)
    straight = small_model()
    straight.compile(make_optimizer())
    straight.fit(x, y, batch_size=50, epochs=3, verbose=0)

    fastcnn.seed(7)
    first = small_model()
    first.compile(make_optimizer())
    first.fit(x, y, batch_size=50, epochs=2, verbose=0)
    first.save(tmp_path / "ckpt")
    fastcnn.seed(12345)            # whatever happens in between
    np.random.default_rng().random(10)
    resumed = fastcnn.load_model(tmp_path / "ckpt")
    assert resumed.epochs_done == 2
    resumed.fit(x, y, batch_size=50, epochs=3, initial_epoch=resumed.epochs_done, verbose=0)
    for a, b in zip(all_arrays(straight), all_arrays(resumed)):
        np.testing.assert_array_equal(a, b)
    assert [r["epoch"] for r in resumed.training_log] == [1, 2, 3]


def test_failed_save_leaves_old_file(digits, tmp_path, monkeypatch):
    x, y = digits
    model = small_model()
    model.compile("sgd")
    path = tmp_path / "model"
    model.save(path)
    before = model.predict(x[:8])
    model.fit(x, y, batch_size=100, verbose=0)

    def broken_savez(f, **arrays):
        f.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")
    monkeypatch.setattr(saving.np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert os.listdir(tmp_path) == ["model"]
    np.testing.assert_array_equal(fastcnn.load_model(path).predict(x[:8]), before)


def test_killed_save_leaves_old_file(digits, tmp_path):
    """A process killed with SIGKILL in the middle of save: the previous checkpoint still loads."""
    x, y = digits
    model = small_model()
    model.compile("sgd")
    path = tmp_path / "model"
    model.save(path)
    before = model.predict(x[:8])
    script = textwrap.dedent(f"""
        import os, sys, time
        import fastcnn, numpy as np
        model = fastcnn.load_model({str(path)!r})
        for p in model.parameters():
            p.value[...] = 0
        def stall(fd):           # hold the half-done save open until the parent kills us
            print("writing", flush=True)
            time.sleep(60)
        os.fsync = stall
        model.save({str(path)!r})
    """)
    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(fastcnn.__file__)))  # the fastcnn under test
    env = dict(os.environ, PYTHONPATH=package_dir + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env)
    try:
        assert proc.stdout.readline().strip() == b"writing"
        assert any(f.endswith(".tmp") for f in os.listdir(tmp_path))   # mid-write
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    np.testing.assert_array_equal(fastcnn.load_model(path).predict(x[:8]), before)


def damage_cases(good: bytes):
    meta_ok = json.dumps({"format": "something-else"}).encode()
    return {
        "empty": b"",
        "text": b"hello, not a model\n",
        "truncated": good[: len(good) // 2],
        "flipped": good[:100] + bytes(b ^ 0xFF for b in good[100:200]) + good[200:],
        "foreign-json": None,   # written below as an npz with a foreign __meta__
        "npy": None,
        "no-meta": None,
        "_meta": meta_ok,
    }


def test_damaged_or_foreign_files(tmp_path):
    model = small_model()
    model.compile("sgd")
    good_path = tmp_path / "good"
    model.save(good_path)
    good = good_path.read_bytes()
    cases = damage_cases(good)
    for name in ("empty", "text", "truncated", "flipped"):
        (tmp_path / name).write_bytes(cases[name])
    with open(tmp_path / "foreign-json", "wb") as f:
        np.savez(f, __meta__=np.frombuffer(cases["_meta"], np.uint8))
    with open(tmp_path / "npy", "wb") as f:
        np.save(f, np.zeros(3))
    with open(tmp_path / "no-meta", "wb") as f:
        np.savez(f, weights=np.zeros(3))
    for name in ("empty", "text", "truncated", "flipped", "foreign-json", "npy", "no-meta"):
        with pytest.raises(ValueError, match=f"load_model: file '.*{name}'"):
            fastcnn.load_model(tmp_path / name)
    with pytest.raises(FileNotFoundError, match="missing"):
        fastcnn.load_model(tmp_path / "missing")


def test_weights_from_another_architecture(tmp_path):
    """A file whose weights do not fit its architecture is rejected, not half-loaded."""
    model = small_model()
    model.save(tmp_path / "m")
    with np.load(tmp_path / "m", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["param_0"] = np.zeros((3, 3), np.float32)
    with open(tmp_path / "bad", "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(ValueError, match="file '.*bad'.*param"):
        fastcnn.load_model(tmp_path / "bad")


def _rewrite_meta(src, dst, edit):
    with np.load(src, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays.pop("__meta__").tobytes().decode("utf-8"))
    edit(meta)
    with open(dst, "wb") as f:
        np.savez(f, __meta__=np.frombuffer(json.dumps(meta).encode("utf-8"), np.uint8), **arrays)


def test_damaged_metadata_rng_state_and_absurd_sizes(tmp_path):
    model = small_model()
    model.save(tmp_path / "m")
    _rewrite_meta(tmp_path / "m", tmp_path / "rng", lambda m: m.update(rng_state={"bit_generator": "Evil", "state": 1}))
    with pytest.raises(ValueError, match="file '.*rng'"):
        fastcnn.load_model(tmp_path / "rng")

    def huge(meta):
        text = json.dumps(meta["model"])
        meta["model"] = json.loads(re.sub(r'"(filters|units)": \d+', r'"\1": 1000000000000', text, count=1))
    _rewrite_meta(tmp_path / "m", tmp_path / "huge", huge)
    with pytest.raises(ValueError, match="file '.*huge'"):
        fastcnn.load_model(tmp_path / "huge")


def test_absurd_sizes_are_rejected_before_memory_is_committed(tmp_path):
    """A file declaring a 5.8-GB Dense layer fails the shape check without touching it (virtual pages only)."""
    import resource
    model = small_model()
    model.save(tmp_path / "m")

    def big(meta):
        text = json.dumps(meta["model"])
        meta["model"] = json.loads(re.sub(r'"units": \d+', '"units": 10000000', text, count=1))
    _rewrite_meta(tmp_path / "m", tmp_path / "big", big)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ValueError, match="file '.*big'.*does not match"):
        fastcnn.load_model(tmp_path / "big")
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 512 * 1024, f"peak memory grew by {grown_kib} KiB"



# -- sizes are checked from the config before anything is allocated -------------------------------------

def _edit_layer(class_name, **changes):
    """A metadata edit: set `changes` in the config of the first layer of class class_name."""
    def edit(meta):
        entry = next(e for e in meta["model"]["layers"] if e["class_name"] == class_name)
        entry["config"].update(changes)
    return edit


def _load_traced(path):
    """load_model(path) -> (the exception it raised, peak bytes traced meanwhile, seconds)."""
    import tracemalloc
    tracemalloc.start()       # numpy reports its buffers to tracemalloc, untouched pages included
    t0 = time.perf_counter()
    try:
        fastcnn.load_model(path)
    except ValueError as e:
        error = e
    else:
        error = None
    finally:
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return error, peak, seconds


@pytest.mark.parametrize("class_name,changes,names", [
    ("Conv2D", {"filters": 10**9}, r"'conv2d_1/kernel' \(1000000000, 1, 5, 5\) \(25,000,000,000 values\) "
                                   r"of layer 'conv2d_1' \(Conv2D\)"),
    ("Dense", {"units": 10**12}, r"'dense_1/kernel' \(1000000000000, 144\) .* of layer 'dense_1' \(Dense\)"),
    ("Dense", {"units": 2**61}, r"layer 'dense_1' \(Dense\): shape \(2305843009213693952, 144\) cannot be "),
], ids=["conv-1e9-filters", "dense-1e12-units", "dense-2**61-units"])
def test_declared_huge_layer_is_rejected_before_allocating(tmp_path, class_name, changes, names):
    """The architecture is sized with placeholders first: a hand-edited layer of absurd size costs
    neither memory (not even untouched pages) nor time, and the error names the layer."""
    small_model().save(tmp_path / "m")
    _rewrite_meta(tmp_path / "m", tmp_path / "huge", _edit_layer(class_name, **changes))
    error, peak, seconds = _load_traced(tmp_path / "huge")
    assert error is not None and re.search(r"load_model: file '.*huge' is damaged", str(error)), error
    assert re.search(names, str(error)), error
    assert peak < 16 * 2**20, f"traced peak {peak:,} bytes"
    assert seconds < 5


def test_huge_layer_with_matching_listing_is_rejected(tmp_path):
    """An edit of both the config and the metadata's list of arrays still meets the arrays themselves."""
    small_model().save(tmp_path / "m")

    def edit(meta):
        _edit_layer("Conv2D", filters=10**9)(meta)
        meta["params"][0][1] = [10**9, 1, 5, 5]
    _rewrite_meta(tmp_path / "m", tmp_path / "huge", edit)
    error, peak, _ = _load_traced(tmp_path / "huge")
    assert re.search(r"param 'conv2d_1/kernel' is listed as \(1000000000, 1, 5, 5\) but stored as "
                     r"\(4, 1, 5, 5\)", str(error)), error
    assert peak < 16 * 2**20


@pytest.mark.parametrize("class_name,changes,message", [
    ("Conv2D", {"filters": 6}, r"param 'conv2d_1/kernel' \(4, 1, 5, 5\) \(100 values\) does not match the "
                               r"architecture's 'conv2d_1/kernel' \(6, 1, 5, 5\) \(150 values\) of layer "
                               r"'conv2d_1' \(Conv2D\)"),
    ("Conv2D", {"kernel_size": [3, 3]}, r"'conv2d_1/kernel' \(4, 1, 5, 5\) .* \(4, 1, 3, 3\)"),
    ("Conv2D", {"use_bias": False}, r"it holds 6 param arrays, the architecture has 5; param 'conv2d_1/bias' "
                                    r"\(4,\) .* 'batch_norm_1/gamma' \(4,\) .* of layer 'batch_norm_1' \(BatchNorm\)"),
    ("Dense", {"use_bias": False}, r"it holds 6 param arrays, the architecture has 5; the architecture has no "
                                   r"place for 'dense_1/bias'"),
    ("Dense", {"units": 12}, r"'dense_1/kernel' \(10, 144\) .* \(12, 144\) .* layer 'dense_1' \(Dense\)"),
    ("MaxPool2D", {"pool_size": [1, 1], "strides": [1, 1]}, r"'dense_1/kernel' \(10, 144\) .* \(10, 576\)"),
], ids=["filters", "kernel_size", "conv-no-bias", "dense-no-bias", "units", "pool-changes-dense-input"])
def test_config_and_weights_mismatch(tmp_path, class_name, changes, message):
    small_model().save(tmp_path / "m")
    _rewrite_meta(tmp_path / "m", tmp_path / "edited", _edit_layer(class_name, **changes))
    with pytest.raises(ValueError, match=f"file '.*edited'.*{message}"):
        fastcnn.load_model(tmp_path / "edited")


def test_file_lacking_a_parameter_of_its_architecture(tmp_path):
    small_model().save(tmp_path / "m")
    with np.load(tmp_path / "m", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays.pop("__meta__").tobytes().decode("utf-8"))
    meta["params"].pop()
    del arrays[f"param_{len(meta['params'])}"]
    with open(tmp_path / "short", "wb") as f:
        np.savez(f, __meta__=np.frombuffer(json.dumps(meta).encode("utf-8"), np.uint8), **arrays)
    with pytest.raises(ValueError, match=r"file '.*short'.*it holds 5 param arrays, the architecture has 6; "
                                         r"none for 'dense_1/bias' \(10,\) \(10 values\) of layer 'dense_1' "
                                         r"\(Dense\)"):
        fastcnn.load_model(tmp_path / "short")


def _rewrite_arrays(src, dst, edit):
    with np.load(src, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    edit(arrays)
    with open(dst, "wb") as f:
        np.savez(f, **arrays)


def test_state_and_optimizer_arrays_are_checked(digits, tmp_path):
    x, y = digits
    model = small_model()
    model.compile(optim.SGD(0.01, momentum=0.9))
    model.fit(x[:100], y[:100], batch_size=50, verbose=0)   # the optimizer has its slots now
    model.save(tmp_path / "m")
    _rewrite_arrays(tmp_path / "m", tmp_path / "state",
                    lambda a: a.update(state_1=np.ones(5, np.float32)))
    with pytest.raises(ValueError, match=r"file '.*state'.*state 'batch_norm_1/moving_var' is listed as "
                                         r"\(4,\) but stored as \(5,\)"):
        fastcnn.load_model(tmp_path / "state")
    _rewrite_arrays(tmp_path / "m", tmp_path / "opt", lambda a: a.update(opt_0=np.zeros((3, 3), np.float32)))
    with pytest.raises(ValueError, match=r"file '.*opt'.*optimizer 'velocity' of 'conv2d_1/kernel' is "
                                         r"\(3, 3\) float32, needed \(4, 1, 5, 5\) float32"):
        fastcnn.load_model(tmp_path / "opt")
    assert fastcnn.load_model(tmp_path / "opt", compile=False).optimizer is None  # the weights are fine
    np.testing.assert_array_equal(fastcnn.load_model(tmp_path / "m").predict(x[:8]), model.predict(x[:8]))


def test_array_header_that_claims_more_than_its_entry_holds(tmp_path):
    """An .npy header inside the archive declaring a huge shape over a few bytes: rejected from the
    header and the zip entry's size, without reading or allocating."""
    import io
    import zipfile
    small_model().save(tmp_path / "m")
    with zipfile.ZipFile(tmp_path / "m") as src, zipfile.ZipFile(tmp_path / "lying", "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "param_0.npy":
                head = io.BytesIO()
                np.lib.format.write_array_header_1_0(
                    head, {"descr": "<f4", "fortran_order": False, "shape": (10**9, 1, 5, 5)})
                data = head.getvalue() + np.zeros(100, np.float32).tobytes()
            dst.writestr(info.filename, data)
    error, peak, _ = _load_traced(tmp_path / "lying")
    assert re.search(r"file '.*lying'.*array 'param_0' declares \(1000000000, 1, 5, 5\) float32 "
                     r"\(100,000,000,000 bytes\), its entry holds 400 bytes", str(error)), error
    assert peak < 16 * 2**20


@fastcnn.layers.register
class ScaleForSavingTest(layers.Layer):
    """A user-defined layer: a parameter, and state given as an array (add_state's value form)."""

    def build(self, input_shape):
        self.add_param("scale", (input_shape[0],), "ones")
        self.add_state("calls", np.zeros(1, np.float32))

    def forward(self, x, training):
        return x * self.params["scale"].value.reshape((1, -1) + (1,) * (x.ndim - 2))


def every_layer_graph():
    """A user-defined functional graph with two inputs, branches and merges, using every layer type."""
    seq = fastcnn.Input((2, 16), name="seq")
    s = layers.Conv1D(4, 3, padding="same", activation="relu")(seq)
    s = layers.MaxPool1D(2)(s)
    s = layers.AvgPool1D(2)(s)
    s = layers.Flatten()(s)
    img = fastcnn.Input((3, 12, 12), name="img")
    a = layers.Conv2D(6, 3, padding="same", groups=3)(img)
    a = layers.BatchNorm()(a)
    a = layers.PReLU()(a)
    b = layers.Conv2D(6, 1)(img)
    b = layers.LocalResponseNorm(3)(b)
    b = ScaleForSavingTest()(b)
    c = layers.Add()([a, b])
    c = layers.Conv2DTranspose(4, 2, strides=2, groups=2)(layers.MaxPool2D(2)(c))
    c = layers.Concatenate()([c, layers.ReLU()(a)])
    c = layers.AvgPool2D(2)(layers.LeakyReLU(0.1)(c))
    c = layers.GlobalAvgPool2D()(layers.ELU()(c))
    c = layers.Softmax()(layers.Activation("tanh")(c))
    d = layers.Concatenate()([layers.Tanh()(s), layers.Sigmoid()(c)])
    d = layers.Dropout(0.2)(layers.Dense(8, activation="relu")(d))
    d = layers.RReLU()(layers.BatchNorm()(d))
    return fastcnn.Model([seq, img], layers.Dense(3)(d), name="every_layer")


def test_user_graph_with_every_layer_round_trip(tmp_path):
    fastcnn.seed(3)
    model = every_layer_graph()
    built_in = {c for c in map(lambda n: getattr(layers, n), layers.__all__)
                if isinstance(c, type) and issubclass(c, layers.Layer) and c is not layers.Layer}
    assert {type(l) for l in model.layers} >= built_in
    for _, a in model.state_arrays():
        a[...] = np.random.default_rng(0).random(a.shape, dtype=np.float32) + 0.5
    model.compile("adam")
    model.save(tmp_path / "g")
    loaded = fastcnn.load_model(tmp_path / "g")
    assert loaded.get_config() == model.get_config()
    for a, b in zip(all_arrays(model), all_arrays(loaded)):
        np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(1)
    xs = [rng.random((2, 2, 16), dtype=np.float32), rng.random((2, 3, 12, 12), dtype=np.float32)]
    np.testing.assert_array_equal(loaded.predict(xs), model.predict(xs))

    for class_name, key, message in [("Conv1D", "filters", "conv1d_1"),
                                     ("Conv2DTranspose", "filters", "conv2d_transpose_1"),
                                     ("Dense", "units", "dense_1")]:
        _rewrite_meta(tmp_path / "g", tmp_path / "huge", _edit_layer(class_name, **{key: 2 * 10**9}))
        error, peak, _ = _load_traced(tmp_path / "huge")
        assert re.search(f"of layer '{message}' \\({class_name}\\)", str(error)), error
        assert peak < 16 * 2**20


MODEL_INPUTS = {"lenet5": (1, 28, 28), "lenet5_classic": (1, 32, 32), "alexnet": (3, 64, 64),
                "vgg16": (1, 32, 32), "googlenet": (3, 32, 32), "resnet18": (3, 32, 32),
                "resnet34": (3, 32, 32), "resnet50": (3, 32, 32)}


@pytest.mark.parametrize("name", fastcnn.models.NAMES)
def test_every_network_round_trip(tmp_path, name):
    """Save and load each network of fastcnn.models (small inputs; weights filled at random without the
    initializers' cost: the point is that the sizes check passes and every array comes back)."""
    from fastcnn.layers import initializers
    with initializers.uninitialized():
        model = fastcnn.models.get(name, num_classes=7, input_shape=MODEL_INPUTS[name])
    rng = np.random.default_rng(0)
    pool = (rng.random(1 << 16, dtype=np.float32) - 0.5) * 0.1   # tiled: drawing 30M values takes a second
    for i, a in enumerate([p.value for p in model.parameters()] + [a for _, a in model.state_arrays()]):
        a.reshape(-1)[:] = np.resize(np.roll(pool, 97 * i), a.size)
    for _, a in model.state_arrays():
        np.abs(a, out=a)   # moving variances must be >= 0
    model.compile(optim.SGD(0.01, momentum=0.9))
    model.save(tmp_path / name)
    loaded = fastcnn.load_model(tmp_path / name)
    assert loaded.get_config() == model.get_config() and isinstance(loaded.optimizer, optim.SGD)
    names = [p.name for p in model.parameters()] + [n for n, _ in model.state_arrays()]
    differ = [n for n, a, b in zip(names, all_arrays(model), all_arrays(loaded), strict=True)
              if a.shape != b.shape or not np.array_equal(a, b)]   # (assert_array_equal: 3x slower)
    assert not differ, differ
    x = rng.random((2, *MODEL_INPUTS[name]), dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
