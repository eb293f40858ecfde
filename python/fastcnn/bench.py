"""``fastcnn bench``: a quick benchmark of this machine, installed with the package.

    fastcnn bench                  # conv2d, max_pool2d and relu kernels: ms and GFLOP/s or GB/s
    fastcnn bench lenet5           # training steps and inference of a network at batch 128

Every figure is the median of ``repeat`` timed runs after warm-up runs. Rates use the definitions
of benchmarks/bench_kernels.py: a convolution's forward does 2 * y.size * C/g*R*S FLOP (direct
multiply-adds) and forward + backward three times that; a memory-bound op moves x.nbytes + y.nbytes.
When PyTorch is importable (optional, imported only here and only when asked for) the same calls are
timed with it, on the same thread count, and ``vs torch`` is torch's time / fastcnn's (> 1: fastcnn
is faster).

The functions return JSON-able dicts (what ``--json`` writes) and format them as tables; the
command-line handling is in cli.py.
"""
from __future__ import annotations

import statistics
import time

import numpy as np

__all__ = ["KERNEL_CASES", "QUICK_KERNEL_CASES", "median_time", "load_torch", "run_kernels", "format_kernels",
           "run_model", "format_model"]

WARMUP = 2

# name: (op, x shape (N, C, H, W), conv: (K, R, stride, pad) / pool: window)
KERNEL_CASES = {
    "lenet_c1": ("conv2d", (128, 1, 28, 28), (6, 5, 1, 2)),
    "lenet_c2": ("conv2d", (128, 6, 14, 14), (16, 5, 1, 0)),
    "conv_3x3": ("conv2d", (8, 64, 56, 56), (64, 3, 1, 1)),
    "max_pool2d": ("max_pool2d", (16, 64, 112, 112), 2),
    "relu": ("relu", (16, 64, 112, 112), None),
}
# the same kinds of call on tiny shapes (--quick: a smoke test of the command, not a measurement)
QUICK_KERNEL_CASES = {
    "lenet_c1": ("conv2d", (2, 1, 12, 12), (6, 5, 1, 2)),
    "lenet_c2": ("conv2d", (2, 6, 8, 8), (16, 5, 1, 0)),
    "conv_3x3": ("conv2d", (1, 8, 8, 8), (8, 3, 1, 1)),
    "max_pool2d": ("max_pool2d", (1, 8, 16, 16), 2),
    "relu": ("relu", (1, 8, 16, 16), None),
}


def median_time(fn, repeat: int, warmup: int = WARMUP) -> float:
    """Seconds: the median of `repeat` calls of fn() after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def load_torch(threads: int):
    """PyTorch set to `threads` threads, or (None, why) when it cannot be imported."""
    try:
        import torch
    except Exception as e:  # not installed, or an install that fails to load
        return None, f"{type(e).__name__}: {e}"
    torch.set_num_threads(threads)
    return torch, None


def _dims(shape) -> str:
    return "x".join(str(int(s)) for s in shape)


def _conv_rows(name, xs, conv, repeat, F, torch, rng) -> list[dict]:
    K, R, stride, pad = conv
    C = xs[1]
    x = rng.standard_normal(xs, dtype=np.float32)
    w = (rng.standard_normal((K, C, R, R), dtype=np.float32) / np.float32(np.sqrt(C * R * R)))
    b = np.zeros(K, np.float32)
    kw = dict(stride=stride, padding=pad)
    y = F.conv2d(x, w, b, **kw)
    dy = np.ones_like(y)
    flop = 2.0 * y.size * C * R * R       # direct-convolution multiply-adds; forward + backward: 3x
    shape = f"{_dims(xs)} -> {K}@{R}x{R}" + (f" s{stride}" if stride != 1 else "") + (f" p{pad}" if pad else "")

    def fwdbwd():
        F.conv2d(x, w, b, **kw)
        F.conv2d_backward(dy, x, w, b, **kw)

    rows = [{"case": name, "pass": "fwd", "shape": shape, "flop": flop,
             "s": median_time(lambda: F.conv2d(x, w, b, **kw), repeat)},
            {"case": name, "pass": "fwd+bwd", "shape": shape, "flop": 3 * flop, "s": median_time(fwdbwd, repeat)}]
    if torch is not None:
        tx, tw, tb = (torch.from_numpy(a).requires_grad_(True) for a in (x, w, b))
        tdy = torch.from_numpy(dy)
        conv2d = torch.nn.functional.conv2d

        def tfwd():
            with torch.no_grad():
                conv2d(tx, tw, tb, **kw)

        rows[0]["torch_s"] = median_time(tfwd, repeat)
        rows[1]["torch_s"] = median_time(lambda: conv2d(tx, tw, tb, **kw).backward(tdy), repeat)
    return rows


def _mem_rows(name, op, xs, window, repeat, F, torch, rng) -> list[dict]:
    x = rng.standard_normal(xs, dtype=np.float32)
    if op == "max_pool2d":
        fn = lambda out=None: F.max_pool2d(x, window, out=out)     # noqa: E731
        shape = f"{_dims(xs)} {window}x{window}"
    else:
        fn = lambda out=None: F.relu(x, out=out)                   # noqa: E731
        shape = _dims(xs)
    y = fn()
    nbytes = float(x.nbytes + y.nbytes)
    # a fresh result array each call (page faults included), like the PyTorch call timed beside it;
    # then into a reused out= array, as a layer does every training step
    rows = [{"case": name, "pass": "fwd", "shape": shape, "bytes": nbytes, "s": median_time(fn, repeat)},
            {"case": name, "pass": "fwd out=", "shape": shape, "bytes": nbytes,
             "s": median_time(lambda: fn(y), repeat)}]
    if torch is not None:
        tx = torch.from_numpy(x)
        tfn = (lambda: torch.nn.functional.max_pool2d(tx, window)) if op == "max_pool2d" else (
            lambda: torch.relu(tx))
        rows[0]["torch_s"] = median_time(tfn, repeat)
    return rows


def _header(threads: int, repeat: int) -> dict:
    import fastcnn
    info = fastcnn.info()
    return {"version": info["version"], "isa": info["isa"], "cpu": info.get("cpu_brand"), "threads": threads,
            "repeat": repeat, "warmup": WARMUP}


def run_kernels(repeat: int = 5, quick: bool = False, use_torch: bool = True, log=None) -> dict:
    """Time the kernel cases on fastcnn's current thread count; a dict with the run's facts and
    'rows': one per (case, pass) with s (seconds), flop or bytes, rate and unit, and torch_s and
    vs_torch when PyTorch runs too."""
    import fastcnn
    import fastcnn.functional as F
    threads = fastcnn.get_num_threads()
    torch, why = load_torch(threads) if use_torch else (None, "--no-torch")
    result = _header(threads, repeat)
    result.update({"torch": torch.__version__ if torch is not None else None, "why_no_torch": why, "quick": quick})
    rng = np.random.default_rng(0)
    rows = []
    for name, (op, xs, arg) in (QUICK_KERNEL_CASES if quick else KERNEL_CASES).items():
        if log:
            log(f"timing {name}")
        if op == "conv2d":
            rows += _conv_rows(name, xs, arg, repeat, F, torch, rng)
        else:
            rows += _mem_rows(name, op, xs, arg, repeat, F, torch, rng)
    for r in rows:
        r["ms"] = r["s"] * 1e3
        if "flop" in r:
            r["rate"], r["unit"] = r["flop"] / r["s"] / 1e9, "GFLOP/s"
        else:
            r["rate"], r["unit"] = r["bytes"] / r["s"] / 1e9, "GB/s"
        if "torch_s" in r:
            r["torch_ms"] = r["torch_s"] * 1e3
            r["vs_torch"] = r["torch_s"] / r["s"]
    result["rows"] = rows
    return result


def _facts_line(result: dict) -> str:
    torch = ""
    if "torch" in result:
        torch = f", torch {result['torch']}" if result["torch"] else ", without torch"
    return (f"fastcnn {result['version']}, ISA {result['isa']}, {result['threads']} thread"
            f"{'s' if result['threads'] != 1 else ''}{torch}; median of {result['repeat']} after "
            f"{result['warmup']} warm-up runs")


def format_kernels(result: dict) -> str:
    with_torch = any("torch_s" in r for r in result["rows"])
    lines = [_facts_line(result)]
    if result.get("quick"):
        lines.append("--quick: tiny shapes, a check that the command runs, not a measurement")
    head = f"{'case':<11}{'pass':<10}{'shape':<30}{'ms':>9}{'rate':>18}"
    if with_torch:
        head += f"{'torch ms':>10}{'vs torch':>10}"
    lines += [head, "-" * len(head)]
    for r in result["rows"]:
        line = f"{r['case']:<11}{r['pass']:<10}{r['shape']:<30}{r['ms']:9.3f}{r['rate']:10.1f} {r['unit']:<7}"
        if with_torch and "torch_s" in r:
            line += f"{r['torch_ms']:10.3f}{r['vs_torch']:9.2f}x"
        lines.append(line.rstrip())
    lines.append("fwd+bwd counts 3x the forward's FLOP; GB/s: input + output bytes; fwd out=: into a reused array")
    if with_torch:
        lines.append("vs torch: PyTorch's time / fastcnn's (> 1: fastcnn is faster)")
    elif result.get("why_no_torch"):
        lines.append(f"PyTorch not timed ({result['why_no_torch']})")
    return "\n".join(lines)


def run_model(model, name: str, repeat: int = 5, batch_size: int = 128, quick: bool = False, log=None) -> dict:
    """Time training steps (forward + backward + SGD momentum step, through model.fit) and inference
    (model.predict) of a built network on random uint8 images of its input shape (MNIST's 1x28x28 for
    lenet5) and random labels. The model is compiled here (its weights change)."""
    import fastcnn
    from .callbacks import Callback
    from . import optim

    shape = tuple(int(s) for s in model.input_shapes[0])
    classes = int(model.output_shapes[0][-1])
    model.compile(optim.SGD(0.01, momentum=0.9), loss="cross_entropy", metrics=[])
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=((WARMUP + repeat) * batch_size, *shape), dtype=np.uint8)
    y = rng.integers(0, classes, size=len(x))

    class StepTimes(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.marks = [time.perf_counter()]

        def on_batch_end(self, batch, logs=None):
            self.marks.append(time.perf_counter())

    if log:
        log(f"{name}: {WARMUP} warm-up and {repeat} timed training steps at batch {batch_size}")
    timer = StepTimes()
    # one epoch over warm-up + timed batches, in order: the first WARMUP steps are not counted
    model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, callbacks=[timer], verbose=0)
    step_s = statistics.median(np.diff(timer.marks)[WARMUP:])
    if log:
        log(f"{name}: inference")
    infer_s = median_time(lambda: model.predict(x[:batch_size], batch_size=batch_size), repeat)

    threads = fastcnn.get_num_threads()
    result = _header(threads, repeat)
    result.update({"model": name, "input_shape": list(shape), "batch_size": batch_size,
                   "parameters": int(model.count_params()), "quick": quick,
                   "train_step_ms": step_s * 1e3, "train_images_per_s": batch_size / step_s,
                   "inference_batch_ms": infer_s * 1e3, "inference_images_per_s": batch_size / infer_s})
    return result


def format_model(result: dict) -> str:
    r = result
    lines = [_facts_line(r),
             f"{r['model']}: input {_dims(r['input_shape'])}, {r['parameters']:,} parameters, batch {r['batch_size']}, "
             f"random data; training step = forward + backward + SGD (momentum) update"]
    if r.get("quick"):
        lines.append("--quick: a check that the command runs, not a measurement")
    head = f"{'':<22}{'ms':>10}{'images/s':>12}"
    lines += [head, "-" * len(head),
              f"{'training (per step)':<22}{r['train_step_ms']:10.2f}{r['train_images_per_s']:12.0f}",
              f"{'inference (per batch)':<22}{r['inference_batch_ms']:10.2f}{r['inference_images_per_s']:12.0f}"]
    return "\n".join(lines)
