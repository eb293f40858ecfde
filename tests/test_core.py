import os
import platform

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


ALL_ISAS = ["baseline", "avx2", "avx512"]


def test_isa_lists():
    d = fastcnn.info()
    if platform.machine().lower() in ("x86_64", "amd64"):
        assert d["built_isas"] == ALL_ISAS
    else:
        assert d["built_isas"] == ["baseline"]
    assert d["cpu_isas"][0] == "baseline" and set(d["cpu_isas"]) <= set(ALL_ISAS)
    # each ISA needs the one below it (avx512 objects are built with -mavx2 -mfma too)
    assert d["cpu_isas"] == ALL_ISAS[:len(d["cpu_isas"])]
    # without FASTCNN_ISA: the best ISA both built and runnable
    runnable = [i for i in ALL_ISAS if i in d["built_isas"] and i in d["cpu_isas"]]
    if "FASTCNN_ISA" not in os.environ:
        assert d["isa"] == runnable[-1]


def test_cpu_isas_agree_with_proc_cpuinfo():
    try:
        with open("/proc/cpuinfo") as f:
            flags = next(line for line in f if line.startswith("flags")).split()
    except (OSError, StopIteration):
        pytest.skip("no /proc/cpuinfo flags")
    cpu = fastcnn.info()["cpu_isas"]
    # Linux lists a feature only if the kernel enabled its register state (XCR0)
    assert ("avx2" in cpu) == all(f in flags for f in ("avx", "avx2", "fma"))
    assert ("avx512" in cpu) == all(f in flags for f in ("avx2", "fma", "avx512f", "avx512bw", "avx512vl",
                                                         "avx512dq"))


@pytest.mark.parametrize("isa", ["scalar"] + ALL_ISAS)
def test_fastcnn_isa_forces_a_path(isa):
    name = "baseline" if isa == "scalar" else isa
    if name not in fastcnn.info()["built_isas"]:
        pytest.skip(f"{name} not built")
    if name not in fastcnn.info()["cpu_isas"]:
        pytest.skip(f"this CPU cannot run {name}")
    r = _info_in_subprocess(isa)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == name


def test_fastcnn_isa_unknown_is_an_error():
    r = _info_in_subprocess("sse9")
    assert r.returncode != 0 and "FASTCNN_ISA=sse9" in r.stderr and "needed one of" in r.stderr


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
def test_fastcnn_isa_the_cpu_lacks_is_an_error_naming_its_isas(isa):
    cpu = fastcnn.info()["cpu_isas"]
    if isa in cpu:
        pytest.skip(f"this CPU runs {isa}")
    r = _info_in_subprocess(isa)
    assert r.returncode != 0
    assert f"FASTCNN_ISA={isa}: this CPU cannot run it; it has: {' '.join(cpu)}" in r.stderr, r.stderr


def test_integer_arguments_too_large_for_int64_are_value_errors():
    import fastcnn.functional as F
    x = np.zeros((1, 1, 4, 4), np.float32)
    w = np.zeros((1, 1, 1, 1), np.float32)
    for kwargs in ({"stride": 2**63}, {"dilation": (1, 2**70)}, {"padding": 2**63}):
        with pytest.raises(ValueError, match="overflow"):
            F.conv2d(x, w, **kwargs)
    with pytest.raises(ValueError, match="'kernel_size'"):
        F.max_pool2d(x, 2**64)
