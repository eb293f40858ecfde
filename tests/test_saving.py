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

