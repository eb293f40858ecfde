"""MNIST handwritten digits (LeCun, Cortes, Burges; CC BY-SA 3.0), shaped like Keras' load_data().

``load_data(path=None)`` reads the four IDX files (gzip-compressed or raw) from, in order:
``path`` (when given, the files must be there), ``$FASTCNN_DATA/mnist``, ``~/.cache/fastcnn/mnist``.
When none has them it downloads them from a public mirror into the cache, verified by the SHA-256
of the decompressed content; with no network it returns the small real-MNIST sample shipped in
the package (``data/mnist_sample.npz``, made by tools/make_mnist_sample.py) and says so on stderr.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import sys
import tempfile
import urllib.request
import zlib

import numpy as np

__all__ = ["load_data", "load_sample", "download", "read_idx"]

# Keys are the array names load_data returns; values the IDX file names (without .gz).
FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}

# SHA-256 of the decompressed files (the gz bytes differ between mirrors, the content does not).
SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]

TIMEOUT_S = 30.0

SAMPLE_PATH = os.path.join(os.path.dirname(__file__), "data", "mnist_sample.npz")


def cache_dir() -> str:
    return os.path.join(os.path.expanduser("~"), ".cache", "fastcnn", "mnist")


def _find(directory: str, name: str) -> str | None:
    for candidate in (name + ".gz", name):
        p = os.path.join(directory, candidate)
        if os.path.isfile(p):
            return p
    return None


def _complete(directory: str) -> dict[str, str] | None:
    """The paths of the four files in directory, or None when any is missing."""
    found = {key: _find(directory, name) for key, name in FILES.items()}
    return None if any(p is None for p in found.values()) else found


def _content(path: str) -> bytes:
    """The file's bytes, decompressed when it is gzip (by magic number, whatever its name)."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"mnist: file '{path}' is a damaged gzip file ({e})") from None
    return raw


def read_idx(path: str, data: bytes | None = None) -> np.ndarray:
    """Parse one unsigned-byte IDX file (images (N,H,W) or labels (N,)) into a uint8 array."""
    data = _content(path) if data is None else data
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08 or data[3] not in (1, 3):
        raise ValueError(f"mnist: file '{path}' is not an unsigned-byte IDX file "
                         f"(magic {data[:4].hex() or 'missing'}, needed 00000801 or 00000803)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"mnist: file '{path}' is truncated: {len(data)} bytes, shorter than its "
                         f"{header}-byte header")
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "too long"
        raise ValueError(f"mnist: file '{path}' is {what}: {len(data)} bytes, needed {expected} "
                         f"for shape {dims}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


def _load_dir(files: dict[str, str]) -> tuple:
    arrays = {key: read_idx(path) for key, path in files.items()}
    for split in ("train", "test"):
        x, y = arrays["x_" + split], arrays["y_" + split]
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise ValueError(f"mnist: file '{files['x_' + split]}' holds shape {x.shape}, needed (N, 28, 28)")
        if y.ndim != 1 or len(y) != len(x):
            raise ValueError(f"mnist: file '{files['y_' + split]}' holds {y.shape} labels, needed ({len(x)},) "
                             f"to match '{files['x_' + split]}'")
        if len(y) and y.max() > 9:
            raise ValueError(f"mnist: file '{files['y_' + split]}' holds label {int(y.max())}, needed 0..9")
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _atomic_write(path: str, data: bytes) -> None:
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def download(directory: str | None = None, mirrors: list[str] | None = None,
             timeout: float = TIMEOUT_S) -> str:
    """Fetch the four gz files into directory (default: the cache) and return it.

    Each file is tried on every mirror in turn and kept only if its decompressed content has the
    expected SHA-256. Raises OSError when some file could not be fetched intact from any mirror.
    """
    directory = cache_dir() if directory is None else directory
    mirrors = MIRRORS if mirrors is None else mirrors
    os.makedirs(directory, exist_ok=True)
    for name in FILES.values():
        dest = os.path.join(directory, name + ".gz")
        if os.path.isfile(dest):
            continue
        failures = []
        for mirror in mirrors:
            url = mirror + name + ".gz"
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    payload = response.read()
                content = gzip.decompress(payload)
            except (OSError, EOFError, zlib.error) as e:  # URLError and timeouts are OSErrors
                failures.append(f"{url}: {e}")
                continue
            digest = hashlib.sha256(content).hexdigest()
            if digest != SHA256[name]:
                failures.append(f"{url}: SHA-256 mismatch (got {digest}, needed {SHA256[name]})")
                continue
            _atomic_write(dest, payload)
            break
        else:
            raise OSError(f"mnist: could not download {name}.gz: " + "; ".join(failures))
    return directory


def load_sample() -> tuple:
    """The small real-MNIST sample shipped in the package (a few thousand digits)."""
    with np.load(SAMPLE_PATH, allow_pickle=False) as z:
        return (z["x_train"], z["y_train"]), (z["x_test"], z["y_test"])


def load_data(path: str | None = None) -> tuple:
    """((x_train, y_train), (x_test, y_test)): uint8 images (N, 28, 28) and labels (N,).

    Looks in path (when given), $FASTCNN_DATA/mnist, ~/.cache/fastcnn/mnist; downloads into the
    cache when none has the files; falls back to the bundled sample when the download fails.
    Damaged files raise ValueError naming the file.
    """
    if path is not None:
        files = _complete(os.fspath(path))
        if files is None:
            raise FileNotFoundError(f"mnist: directory '{path}' does not hold the four MNIST files "
                                    f"({', '.join(n + '[.gz]' for n in FILES.values())})")
        return _load_dir(files)
    candidates = []
    if os.environ.get("FASTCNN_DATA"):
        candidates.append(os.path.join(os.environ["FASTCNN_DATA"], "mnist"))
    candidates.append(cache_dir())
    for directory in candidates:
        files = _complete(directory)
        if files is not None:
            return _load_dir(files)
    try:
        return _load_dir(_complete(download()))
    except OSError as e:
        print(f"fastcnn: MNIST is not available locally and the download failed ({e}); using the "
              f"bundled sample of real MNIST digits instead ({SAMPLE_PATH}).", file=sys.stderr)
        return load_sample()
