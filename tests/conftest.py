import gzip
import os
import sys

import pytest

from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(__file__))  # `import reference`

# CI (CI=true) draws the same examples every run, so a landing never hinges on a lucky draw;
# development runs keep exploring new ones.
_ci = bool(os.environ.get("CI"))
settings.register_profile("default", max_examples=40, deadline=None, derandomize=_ci,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("sanitize", max_examples=8, deadline=None, derandomize=_ci,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("FASTCNN_HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="module")
def one_thread():
    """Tiny shapes: one thread avoids OpenMP start-up/barrier costs (results do not depend on it).
    Use with `pytestmark = pytest.mark.usefixtures("one_thread")`."""
    import fastcnn
    before = fastcnn.get_num_threads()
    fastcnn.set_num_threads(1)
    yield
    fastcnn.set_num_threads(before)


def _install_cuda(monkeypatch, kind: str):
    """Make fastcnn.cuda use the numpy-backed fake ("fake") or the real module ("cuda", skipped
    where it cannot run); the loader's cache is cleared before and after."""
    import fastcnn.cuda
    import fake_cuda
    fastcnn.cuda._reset()
    if kind == "fake":
        monkeypatch.setattr(fastcnn.cuda, "_import_module", lambda: fake_cuda)
    elif not fastcnn.cuda.is_available():
        why = fastcnn.cuda.why_unavailable()
        fastcnn.cuda._reset()
        pytest.skip(f"no CUDA here: {why}")
    assert fastcnn.cuda.is_available()
    return fastcnn.cuda.backend()


@pytest.fixture
def fake_cuda(monkeypatch):
    """fastcnn.cuda backed by tests/fake_cuda.py for this test."""
    yield _install_cuda(monkeypatch, "fake")
    import fastcnn.cuda
    fastcnn.cuda._reset()


@pytest.fixture(params=["fake", "cuda"])
def cuda_backend(request, monkeypatch):
    """Each CUDA test runs on the fake and, where a GPU is present, on the real module.
    Yields the backend module; request.param says which."""
    yield _install_cuda(monkeypatch, request.param)
    import fastcnn.cuda
    fastcnn.cuda._reset()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """The bundled sample written out as the four IDX files (what --data expects)."""
    from fastcnn.datasets import mnist
    d = tmp_path_factory.mktemp("mnist")
    (x, y), (xt, yt) = mnist.load_sample()
    for key, a in {"x_train": x, "y_train": y, "x_test": xt, "y_test": yt}.items():
        header = bytes([0, 0, 8, a.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in a.shape)
        with gzip.open(d / (mnist.FILES[key] + ".gz"), "wb", compresslevel=1) as f:
            f.write(header + a.tobytes())
    return d
