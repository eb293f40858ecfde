"""The CUDA module's runtime: status, device arrays, the caching allocator, the tensor helpers.

Without a GPU (or without a driver) only the import and the error paths run: the module must import,
say why CUDA is unavailable, and raise RuntimeError (not crash) when asked for device memory. The
rest runs against numpy when a GPU is present.
"""
import subprocess
import sys

import numpy as np
import pytest

C = pytest.importorskip("fastcnn._C_cuda", reason="the CUDA module is not built (no nvcc)")
AVAILABLE, REASON = C.status()
gpu = pytest.mark.skipif(not AVAILABLE, reason=f"no usable GPU: {REASON}")
DTYPES = ["float32", "uint8", "int32", "int64"]


def host(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == "float32":
        return rng.standard_normal(shape).astype(np.float32)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)


# ---- without a device (and always) ------------------------------------------------------------

def test_status_never_raises_and_has_a_reason():
    ok, reason = C.status()
    assert isinstance(ok, bool) and isinstance(reason, str) and reason
    assert C.is_available() is ok
    assert C.device_count() >= (1 if ok else 0)
    if not ok:
        assert C.device_count() == 0


def test_build_info():
    info = C.build_info()
    assert set(info) >= {"version", "cuda_runtime", "nvcc", "archs", "driver"}
    assert info["archs"]


def test_precision_setting():
    before = C.get_precision()
    try:
        for p in ("tf32", "bf16", "fp32"):
            C.set_precision(p)
            assert C.get_precision() == p
        with pytest.raises(ValueError, match="'precision'"):
            C.set_precision("fp16")
    finally:
        C.set_precision(before)


@pytest.mark.skipif(AVAILABLE, reason="a GPU is present")
@pytest.mark.parametrize("call", [
    lambda: C.empty((2, 3)),
    lambda: C.empty((0,)),
    lambda: C.to_device(np.zeros(3, np.float32)),
    lambda: C.synchronize(),
    lambda: C.memory_info(),
])
def test_without_device_raises_runtime_error_saying_why(call):
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        call()


def test_import_fastcnn_does_not_import_the_cuda_module():
    code = "import sys, fastcnn; assert 'fastcnn._C_cuda' not in sys.modules, 'imported eagerly'"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---- device arrays ------------------------------------------------------------------------------

@gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (3, 0, 2), (1,), (5, 7), (2, 3, 4, 5), (1 << 20) + 3])
def test_round_trip(dtype, shape):
    h = host(shape, dtype)
    d = C.to_device(h)
    assert d.shape == h.shape and d.dtype == h.dtype and d.ndim == h.ndim
    assert d.size == h.size and d.nbytes == h.nbytes
    out = d.numpy()
    assert out.dtype == h.dtype and out.shape == h.shape
    np.testing.assert_array_equal(out, h)
    if h.ndim:
        assert len(d) == h.shape[0]
    else:
        with pytest.raises(TypeError):
            len(d)
    assert repr(d).startswith(f"DeviceArray(shape={h.shape}, dtype={dtype}")


@gpu
def test_round_trip_large():
    h = np.arange((1 << 27) + 5, dtype=np.float32)  # 512 MiB
    np.testing.assert_array_equal(C.to_device(h).numpy(), h)


@gpu
@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_and_fill(dtype):
    d = C.empty((4, 5), dtype)
    assert d.shape == (4, 5) and d.dtype == np.dtype(dtype)
    for v in (0, 3, 1):
        C.fill(d, v)
        np.testing.assert_array_equal(d.numpy(), np.full((4, 5), v, dtype))
    if dtype == "float32":
        C.fill(d, -2.5)
        np.testing.assert_array_equal(d.numpy(), np.full((4, 5), -2.5, np.float32))
    C.fill(C.empty((0, 3), dtype), 1)
    assert C.empty(7, np.dtype(dtype)).shape == (7,)


@gpu
def test_reshape_is_a_view():
    h = host((6, 4), "float32")
    d = C.to_device(h)
    v = d.reshape(-1)
    assert v.shape == (24,)
    assert d.reshape(3, -1).shape == (3, 8) and d.reshape((2, 3, 4)).shape == (2, 3, 4)
    C.fill(v, 1.0)
    np.testing.assert_array_equal(d.numpy(), np.ones((6, 4), np.float32))
    assert C.empty((0, 5)).reshape(-1, 5).shape == (0, 5)
    with pytest.raises(ValueError, match="size 24"):
        d.reshape(5, 5)
    with pytest.raises(ValueError, match="more than one -1"):
        d.reshape(-1, -1)


@gpu
def test_slices_follow_numpy():
    h = host((10, 3), "int32")
    d = C.to_device(h)
    bounds = [None, -12, -10, -3, -1, 0, 1, 4, 9, 10, 12]
    for start in bounds:
        for stop in bounds:
            s = slice(start, stop)
            np.testing.assert_array_equal(d[s].numpy(), h[s], err_msg=str(s))
            assert d[s].shape == h[s].shape
    np.testing.assert_array_equal(d[2:5][1:2].numpy(), h[2:5][1:2])
    with pytest.raises(ValueError, match="step"):
        d[::2]
    with pytest.raises(TypeError, match="slices"):
        d[1]
    with pytest.raises(ValueError):
        C.to_device(np.array(1, np.float32))[0:1]


@gpu
def test_row_views_share_memory():
    d = C.to_device(np.zeros((5, 4), np.float32))
    C.fill(d[1:3], 7.0)
    want = np.zeros((5, 4), np.float32)
    want[1:3] = 7
    np.testing.assert_array_equal(d.numpy(), want)
    C.upload(d[3:], np.ones((2, 4), np.float32))
    want[3:] = 1
    np.testing.assert_array_equal(d.numpy(), want)


@gpu
def test_upload_and_copy():
    h = host((3, 4), "float32")
    d = C.empty((3, 4))
    C.upload(d, h)
    e = C.empty((3, 4))
    C.copy(d, e)
    np.testing.assert_array_equal(e.numpy(), h)
    with pytest.raises(ValueError, match="'array'"):
        C.upload(d, np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match="'array'"):
        C.upload(d, np.zeros((3, 4), np.int32))
    with pytest.raises(ValueError, match="'dst'"):
        C.copy(d, C.empty((3, 4), "int32"))
    with pytest.raises(ValueError, match="'dst'"):
        C.copy(d, C.empty((12,)))


@gpu
def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="'array'.*float64"):
        C.to_device(np.zeros(3))
    with pytest.raises(ValueError, match="'array'.*C-contiguous"):
        C.to_device(np.zeros((4, 4), np.float32).T)
    with pytest.raises(TypeError, match="'array'"):
        C.to_device([1.0, 2.0])
    with pytest.raises(ValueError, match="'dtype'"):
        C.empty((2,), "float64")
    with pytest.raises(ValueError, match="'shape'"):
        C.empty((2, -1))
    with pytest.raises(TypeError, match="'shape'"):
        C.empty("abc")
    with pytest.raises(ValueError, match="'value'"):
        C.fill(C.empty((2,), "uint8"), 300)


@gpu
def test_out_of_memory_is_memory_error_and_recoverable():
    with pytest.raises(MemoryError, match="out of memory"):
        C.empty((1 << 45,), "uint8")
    np.testing.assert_array_equal(C.to_device(np.arange(5, dtype=np.int64)).numpy(), np.arange(5))


@gpu
def test_allocator_reuses_blocks():
    shapes = [(128, 6, 28, 28), (128, 16, 10, 10), (128, 10), (7,), (0,)]
    for _ in range(3):  # warm the cache
        arrays = [C.empty(s) for s in shapes]
        del arrays
    C.synchronize()
    before = C.memory_info()
    for _ in range(100):
        arrays = [C.empty(s) for s in shapes]
        C.fill(arrays[0], 1.0)
        del arrays
    after = C.memory_info()
    assert after["device_mallocs"] == before["device_mallocs"]
    assert after["in_use_bytes"] == before["in_use_bytes"]
    C.empty_cache()
    assert C.memory_info()["cached_bytes"] == 0


# ---- tensor helpers -------------------------------------------------------------------------------

@gpu
@pytest.mark.parametrize("n", [0, 1, 5, 1024, 100003])
def test_add_and_scale(n):
    a, b = host((n,), "float32", 1), host((n,), "float32", 2)
    da, db, dy = C.to_device(a), C.to_device(b), C.empty((n,))
    C.add(da, db, dy)
    np.testing.assert_array_equal(dy.numpy(), a + b)
    C.scale(da, 0.5, dy)
    np.testing.assert_array_equal(dy.numpy(), np.float32(0.5) * a)
    C.add(da, db, da)  # out aliasing a
    np.testing.assert_array_equal(da.numpy(), a + b)


@gpu
def test_add_unaligned_views():
    a, b = host((4004,), "float32", 1), host((4004,), "float32", 2)
    da, db, dy = C.to_device(a), C.to_device(b), C.empty((4004,))
    C.add(da[1:4001], db[3:4003], dy[2:4002])  # offsets of 4, 12 and 8 bytes: the scalar path
    np.testing.assert_array_equal(dy[2:4002].numpy(), a[1:4001] + b[3:4003])
    with pytest.raises(ValueError, match="'b'"):
        C.add(da, db[1:], da)
    with pytest.raises(ValueError, match="'out'"):
        C.add(da, db, C.empty((4004,), "int32"))


@gpu
@pytest.mark.parametrize("dtype", ["float32", "uint8", "int64"])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat_and_split(dtype, axis):
    shapes = [(3, 2, 5), (3, 7, 5), (3, 1, 5)] if axis == 1 else \
             [(2, 4, 5), (1, 4, 5), (3, 4, 5)] if axis == 0 else [(3, 4, 1), (3, 4, 6), (3, 4, 3)]
    parts = [host(s, dtype, i) for i, s in enumerate(shapes)]
    whole = np.concatenate(parts, axis=axis)
    dout = C.empty(whole.shape, dtype)
    C.concat([C.to_device(p) for p in parts], axis, dout)
    np.testing.assert_array_equal(dout.numpy(), whole)
    outs = [C.empty(s, dtype) for s in shapes]
    C.split(C.to_device(whole), axis, outs)
    for o, p in zip(outs, parts):
        np.testing.assert_array_equal(o.numpy(), p)


@gpu
def test_concat_bad_inputs():
    a, b = C.empty((2, 3)), C.empty((2, 4))
    with pytest.raises(ValueError, match="'out'"):
        C.concat([a, b], 1, C.empty((2, 8)))
    with pytest.raises(ValueError, match=r"'arrays\[1\]'"):
        C.concat([a, b], 0, C.empty((4, 3)))
    with pytest.raises(ValueError, match="'axis'"):
        C.concat([a, b], 2, C.empty((2, 7)))
    with pytest.raises(ValueError, match=r"'arrays\[0\]'"):
        C.concat([C.empty((2, 3), "int32"), b], 1, C.empty((2, 7)))
    with pytest.raises(ValueError, match="'arrays'"):
        C.concat([], 0, C.empty((2, 7)))
    with pytest.raises(ValueError, match="'x'"):
        C.split(C.empty((2, 8)), 1, [a, b])


@gpu
@pytest.mark.parametrize("src_dtype", ["uint8", "float32"])
@pytest.mark.parametrize("row", [(1, 28, 28), (3,), (5, 2)])
def test_take_rows(src_dtype, row):
    src = host((50,) + row, src_dtype)
    idx = np.array([3, 49, 0, 3, 17], np.int64)
    dout = C.empty((5,) + row)
    C.take_rows(C.to_device(src), C.to_device(idx), dout, 1 / 255)
    want = src[idx].astype(np.float32) * np.float32(1 / 255)
    np.testing.assert_allclose(dout.numpy(), want, rtol=1e-6)
    C.take_rows(C.to_device(src), C.to_device(np.array([1, 50, -1], np.int64)), dout[:3])
    got = dout[:3].numpy()
    np.testing.assert_array_equal(got[0], src[1].astype(np.float32))
    assert np.isnan(got[1:]).all()


@gpu
def test_take_rows_and_labels_bad_inputs():
    src, idx = C.empty((10, 4), "uint8"), C.to_device(np.arange(3, dtype=np.int64))
    with pytest.raises(ValueError, match="'out'"):
        C.take_rows(src, idx, C.empty((3, 5)))
    with pytest.raises(ValueError, match="'out'"):
        C.take_rows(src, idx, C.empty((3, 4), "int32"))
    with pytest.raises(ValueError, match="'idx'"):
        C.take_rows(src, C.empty((3,), "int32"), C.empty((3, 4)))
    with pytest.raises(ValueError, match="'src'"):
        C.take_rows(C.empty((10, 4), "int64"), idx, C.empty((3, 4)))
    with pytest.raises(ValueError, match="'src'"):
        C.take_labels(src, idx, C.empty((3, 4), "uint8"))
    with pytest.raises(ValueError, match="'out'"):
        C.take_labels(C.empty((10,), "int64"), idx, C.empty((3,), "float32"))


@gpu
@pytest.mark.parametrize("dtype,row", [("int64", ()), ("float32", (10,))])
def test_take_labels(dtype, row):
    src = host((20,) + row, dtype)
    idx = np.array([19, 0, 5, 5], np.int64)
    dout = C.empty((4,) + row, dtype)
    C.take_labels(C.to_device(src), C.to_device(idx), dout)
    np.testing.assert_array_equal(dout.numpy(), src[idx])
    C.take_labels(C.to_device(src), C.to_device(np.array([20], np.int64)), dout[:1])
    bad = dout[:1].numpy()
    assert (bad == -1).all() if dtype == "int64" else np.isnan(bad).all()


@gpu
@pytest.mark.parametrize("N,K", [(0, 10), (1, 1), (37, 10), (300, 1000)])
def test_argmax_hits(N, K):
    rng = np.random.default_rng(N)
    logits = rng.integers(0, 4, size=(N, K)).astype(np.float32)  # many ties: the first maximum wins
    if N > 3:
        logits[1, K // 2] = np.nan
        logits[2, :] = -np.inf
    labels = rng.integers(0, K, size=N).astype(np.int64)
    labels[: N // 2] = np.argmax(logits[: N // 2], 1)
    count = C.to_device(np.array([2.0], np.float32))
    C.argmax_hits(C.to_device(logits), C.to_device(labels), count)
    want = 2 + int(np.sum(np.argmax(logits, 1) == labels)) if N else 2
    assert count.numpy()[0] == want
    onehot = np.eye(K, dtype=np.float32)[labels]
    C.argmax_hits(C.to_device(logits), C.to_device(onehot), count)
    assert count.numpy()[0] == 2 * want - 2


@gpu
def test_argmax_hits_bad_inputs():
    logits, count = C.empty((4, 3)), C.empty((1,))
    with pytest.raises(ValueError, match="'labels'"):
        C.argmax_hits(logits, C.empty((4,), "int32"), count)
    with pytest.raises(ValueError, match="'labels'"):
        C.argmax_hits(logits, C.empty((5,), "int64"), count)
    with pytest.raises(ValueError, match="'count'"):
        C.argmax_hits(logits, C.empty((4,), "int64"), C.empty((2,)))
    with pytest.raises(ValueError, match="'logits'"):
        C.argmax_hits(C.empty((4,)), C.empty((4,), "int64"), count)


@gpu
@pytest.mark.parametrize("n", [0, 1, 1000, 1 << 20])
def test_sum_into(n):
    x = host((n,), "float32")
    acc = C.to_device(np.array([1.5], np.float32))
    C.sum_into(C.to_device(x), acc)
    C.sum_into(C.to_device(x), acc)
    want = 1.5 + 2 * x.astype(np.float64).sum()
    np.testing.assert_allclose(acc.numpy()[0], want, rtol=1e-6, atol=1e-5)
    with pytest.raises(ValueError, match="'out'"):
        C.sum_into(C.to_device(x), C.empty((2,)))
