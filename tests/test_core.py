import numpy as np
import pytest

import fastcnn
from fastcnn.functional import _validate as V


def test_info_has_build_and_runtime_facts():
    d = fastcnn.info()
    for key in ("version", "compiler", "openmp", "isa", "cuda_built", "cuda_available"):
        assert key in d, key
    assert d["version"] == fastcnn.__version__
    assert d["isa"] in d["built_isas"]
    assert d["cuda_available"] in (True, False)


def test_num_threads_roundtrip():
    old = fastcnn.get_num_threads()
    try:
        fastcnn.set_num_threads(1)
        assert fastcnn.get_num_threads() == 1
        fastcnn.set_num_threads(2)
        assert fastcnn.get_num_threads() == 2
    finally:
        fastcnn.set_num_threads(old)


@pytest.mark.parametrize("bad, exc", [(0, ValueError), (-3, ValueError), (1.5, TypeError), ("2", TypeError)])
def test_set_num_threads_rejects(bad, exc):
    with pytest.raises(exc, match="'n'"):
        fastcnn.set_num_threads(bad)


def test_array_conversion_and_errors():
    a = V.array([[1, 2], [3, 4]], "op", "x", ndim=2)
    assert a.dtype == np.float32 and a.flags.c_contiguous
    strided = np.arange(12, dtype=np.float64).reshape(3, 4)[:, ::2]
    b = V.array(strided, "op", "x")
    np.testing.assert_array_equal(b, strided)
    with pytest.raises(TypeError, match="argument 'x'.*dtype"):
        V.array(np.array(["a"]), "op", "x")
    with pytest.raises(ValueError, match=r"argument 'x' got shape \(2, 2\) \(2-D\), needed a 4-D array"):
        V.array(a, "op", "x", ndim=4)
    with pytest.raises(ValueError, match="overflow"):
        V.new_array((1 << 40, 1 << 40), "op")


@pytest.mark.parametrize("pad, want", [
    (1, [(1, 1), (1, 1)]),
    ((1, 2), [(1, 1), (2, 2)]),
    (((0, 1), (2, 3)), [(0, 1), (2, 3)]),
    ("valid", [(0, 0), (0, 0)]),
    ("full", [(4, 4), (2, 2)]),
])
def test_padding_forms(pad, want):
    assert V.padding(pad, "op", (10, 10), (5, 3), (1, 1)) == want


def test_same_padding_follows_tensorflow():
    # in 10, k 3, stride 2 -> out 5, total pad (5-1)*2+3-10 = 1 -> (0, 1): the extra at the end
    assert V.padding("same", "op", (10,), (3,), (2,)) == [(0, 1)]
    assert V.padding("same", "op", (28,), (5,), (1,)) == [(2, 2)]
    with pytest.raises(ValueError, match="argument 'padding'"):
        V.padding(-1, "op", (10,), (3,), (1,))
    with pytest.raises(ValueError, match="argument 'padding'"):
        V.padding("bogus", "op", (10,), (3,), (1,))


def _info_in_subprocess(isa):
    import os
    import subprocess
    import sys
    env = dict(os.environ, FASTCNN_ISA=isa)
    code = "import fastcnn, fastcnn.functional as F, numpy as np; F.relu(np.ones(3)); print(fastcnn.info()['isa'])"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)


@pytest.mark.parametrize("isa", ["scalar", "baseline"] + [i for i in fastcnn.info()["cpu_isas"] if i != "baseline"])
def test_fastcnn_isa_forces_a_path(isa):
    if isa not in ("scalar",) and isa not in fastcnn.info()["built_isas"]:
        pytest.skip(f"{isa} not built")
    r = _info_in_subprocess(isa)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ("baseline" if isa == "scalar" else isa)


def test_fastcnn_isa_unknown_or_unavailable_is_an_error():
    r = _info_in_subprocess("sse9")
    assert r.returncode != 0 and "FASTCNN_ISA=sse9" in r.stderr and "needed one of" in r.stderr
    missing = [i for i in ("avx2", "avx512") if i not in fastcnn.info()["cpu_isas"]]
    if missing:
        r = _info_in_subprocess(missing[0])
        assert r.returncode != 0 and "this CPU cannot run it" in r.stderr


def test_integer_arguments_too_large_for_int64_are_value_errors():
    import fastcnn.functional as F
    x = np.zeros((1, 1, 4, 4), np.float32)
    w = np.zeros((1, 1, 1, 1), np.float32)
    for kwargs in ({"stride": 2**63}, {"dilation": (1, 2**70)}, {"padding": 2**63}):
        with pytest.raises(ValueError, match="overflow"):
            F.conv2d(x, w, **kwargs)
    with pytest.raises(ValueError, match="'kernel_size'"):
        F.max_pool2d(x, 2**64)
