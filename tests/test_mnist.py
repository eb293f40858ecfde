"""fastcnn.datasets.mnist: IDX parsing, search order, download with SHA-256, damaged files, sample."""
import functools
import gzip
import hashlib
import http.server
import os
import threading

import numpy as np
import pytest

from fastcnn.datasets import mnist

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REAL_DIR = os.path.join(os.environ.get("FASTCNN_DATA", os.path.join(ROOT, "..", "shared", "data")), "mnist")
needs_real = pytest.mark.skipif(mnist._complete(REAL_DIR) is None, reason=f"full MNIST not in {REAL_DIR}")


def idx_bytes(a: np.ndarray) -> bytes:
    a = np.ascontiguousarray(a, dtype=np.uint8)
    header = bytes([0, 0, 8, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
    return header + a.tobytes()


def synthetic(n_train=12, n_test=5, seed=0) -> dict:
    """{file name: raw IDX content} for a tiny MNIST-shaped set."""
    rng = np.random.default_rng(seed)
    arrays = {"x_train": rng.integers(0, 256, (n_train, 28, 28)), "y_train": rng.integers(0, 10, n_train),
              "x_test": rng.integers(0, 256, (n_test, 28, 28)), "y_test": rng.integers(0, 10, n_test)}
    return {mnist.FILES[k]: idx_bytes(v) for k, v in arrays.items()}


def write_set(directory, contents: dict, compress=True):
    os.makedirs(directory, exist_ok=True)
    for name, data in contents.items():
        if compress:
            with open(os.path.join(directory, name + ".gz"), "wb") as f:
                f.write(gzip.compress(data))
        else:
            with open(os.path.join(directory, name), "wb") as f:
                f.write(data)


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No FASTCNN_DATA, an empty home (so an empty cache), no real mirrors."""
    monkeypatch.delenv("FASTCNN_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(mnist, "MIRRORS", ["http://127.0.0.1:9/"])
    monkeypatch.setattr(mnist, "TIMEOUT_S", 2.0)
    return tmp_path


@pytest.fixture
def server(tmp_path):
    """A local HTTP server over tmp_path/www; yields (root dir, base url)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def use_hashes(monkeypatch, contents):
    monkeypatch.setattr(mnist, "SHA256", {k: hashlib.sha256(v).hexdigest() for k, v in contents.items()})


# -- the real files

@needs_real
def test_real_mnist():
    (x_train, y_train), (x_test, y_test) = mnist.load_data(REAL_DIR)
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == y_train.dtype == np.uint8
    assert np.bincount(y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@needs_real
def test_fastcnn_data_env_is_searched(monkeypatch, isolated):
    monkeypatch.setenv("FASTCNN_DATA", os.path.dirname(REAL_DIR))
    (_, y_train), _ = mnist.load_data()
    assert len(y_train) == 60000


@needs_real
def test_sample_is_the_start_of_real_mnist():
    (xs, ys), (xts, yts) = mnist.load_sample()
    (x, y), (xt, yt) = mnist.load_data(REAL_DIR)
    assert 1000 <= len(xs) <= 10000 and len(xts) >= 500
    np.testing.assert_array_equal(xs, x[:len(xs)])
    np.testing.assert_array_equal(yts, yt[:len(yts)])


# -- reading

@pytest.mark.parametrize("compress", [True, False])
def test_reads_gz_and_raw(tmp_path, compress):
    contents = synthetic()
    write_set(tmp_path, contents, compress)
    (x_train, y_train), (x_test, y_test) = mnist.load_data(tmp_path)
    assert x_train.shape == (12, 28, 28) and y_test.shape == (5,)
    assert idx_bytes(x_train) == contents["train-images-idx3-ubyte"]


def test_explicit_path_without_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not hold the four MNIST files"):
        mnist.load_data(tmp_path)


def test_cache_is_searched(isolated):
    write_set(isolated / "home" / ".cache" / "fastcnn" / "mnist", synthetic())
    (x_train, _), _ = mnist.load_data()
    assert len(x_train) == 12


@pytest.mark.parametrize("damage, message", [
    (lambda d: d[:-7], "truncated"),
    (lambda d: d[:10], "truncated"),
    (lambda d: d + b"\0", "too long"),
    (lambda d: b"\0\0\x09\3" + d[4:], "not an unsigned-byte IDX file"),
    (lambda d: b"PK" + d[2:], "not an unsigned-byte IDX file"),
    (lambda d: b"", "not an unsigned-byte IDX file"),
])
def test_damaged_file_names_it(tmp_path, damage, message):
    contents = synthetic()
    contents["t10k-images-idx3-ubyte"] = damage(contents["t10k-images-idx3-ubyte"])
    write_set(tmp_path, contents)
    with pytest.raises(ValueError, match=message) as e:
        mnist.load_data(tmp_path)
    assert "t10k-images-idx3-ubyte.gz" in str(e.value)


@pytest.mark.parametrize("cut", [20, -30])
def test_damaged_gzip_names_it(tmp_path, cut):
    write_set(tmp_path, synthetic())
    p = tmp_path / "train-labels-idx1-ubyte.gz"
    data = p.read_bytes()
    p.write_bytes(data[:cut] if cut < 0 else data[:cut] + b"garbage" * 5)
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz.*damaged gzip"):
        mnist.load_data(tmp_path)


def test_label_count_mismatch(tmp_path):
    contents = synthetic()
    contents["train-labels-idx1-ubyte"] = idx_bytes(np.zeros(11))
    write_set(tmp_path, contents)
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz.*needed \\(12,\\)"):
        mnist.load_data(tmp_path)


# -- download

def test_download_verifies_and_caches(isolated, server, monkeypatch):
    root, url = server
    contents = synthetic()
    write_set(root, contents)
    use_hashes(monkeypatch, contents)
    monkeypatch.setattr(mnist, "MIRRORS", ["http://127.0.0.1:9/", url])   # the first mirror is down
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    assert idx_bytes(y_test) == contents["t10k-labels-idx1-ubyte"]
    cache = isolated / "home" / ".cache" / "fastcnn" / "mnist"
    assert sorted(os.listdir(cache)) == sorted(n + ".gz" for n in mnist.FILES.values())
    (root / "train-images-idx3-ubyte.gz").unlink()       # now served from the cache
    (x2, _), _ = mnist.load_data()
    np.testing.assert_array_equal(x2, x_train)


def test_download_rejects_corrupted_content(tmp_path, server, monkeypatch):
    root, url = server
    contents = synthetic()
    use_hashes(monkeypatch, contents)
    served = dict(contents)
    served["train-images-idx3-ubyte"] = idx_bytes(np.ones((12, 28, 28)))   # valid IDX, wrong bytes
    write_set(root, served)
    dest = tmp_path / "dest"
    with pytest.raises(OSError, match="train-images-idx3-ubyte.gz.*SHA-256 mismatch"):
        mnist.download(str(dest), mirrors=[url], timeout=5)
    assert "train-images-idx3-ubyte.gz" not in os.listdir(dest)
    assert not [f for f in os.listdir(dest) if f.startswith(".tmp")]


def test_download_rejects_bad_gzip(tmp_path, server, monkeypatch):
    root, url = server
    contents = synthetic()
    use_hashes(monkeypatch, contents)
    write_set(root, contents)
    (root / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b\x08garbage")
    with pytest.raises(OSError, match="t10k-labels-idx1-ubyte.gz"):
        mnist.download(str(tmp_path / "dest"), mirrors=[url], timeout=5)


def test_no_network_falls_back_to_sample(isolated, capfd):
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    assert "bundled sample" in capfd.readouterr().err
    assert x_train.dtype == np.uint8 and x_train.shape[1:] == (28, 28) and len(x_train) == len(y_train)
    assert 1000 <= len(x_train) <= 10000 and len(x_test) >= 500
    assert set(np.unique(y_train)) == set(range(10))
    assert os.path.getsize(mnist.SAMPLE_PATH) < 2_000_000
