"""Kernel benchmarks: fastcnn vs PyTorch CPU, side by side in one run.

For each case: forward and forward+backward time (median of --repeat runs after warm-up), the rate
(GFLOP/s for convolutions, GB/s for memory-bound ops), the fraction of this machine's peak, and
PyTorch's time for the same call with the ratio (PyTorch is optional: its columns are empty without it).

    python benchmarks/bench_kernels.py                       # every case
    python benchmarks/bench_kernels.py --cases lenet_c1,relu --repeat 9 --json out.json
    python benchmarks/bench_kernels.py --isa baseline        # force a kernel ISA (FASTCNN_ISA)
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

# Measured on the development machine (2 cores of an AMD EPYC, Zen 5): FMA peak per core by ISA,
# in GFLOP/s, and the memory copy bandwidth. See DESIGN.md.
PEAK_GFLOPS_PER_CORE = {"avx512": 281.0, "avx2": 141.0, "baseline": 141.0 / 4}
COPY_GBS = 39.0
# Seconds of idleness before each library's timed block: PyTorch's and fastcnn's idle worker threads
# keep spinning for a while after their last call and would take the cores of the other library's
# first calls (seen on the Zen 5 VM: lenet_c2's forward timed right after lenet_c1's PyTorch calls,
# 0.29-0.31 ms, and alone 0.17-0.18 ms).
SETTLE_S = 0.2

# name: (N, C, H, W, K, R, stride, pad)
CONV_CASES = {
    "lenet_c1": (128, 1, 28, 28, 6, 5, 1, 2),
    "lenet_c2": (128, 6, 14, 14, 16, 5, 1, 0),
    "alexnet_c1": (16, 3, 227, 227, 96, 11, 4, 0),
    "vgg_c1_2": (4, 64, 224, 224, 64, 3, 1, 1),
    "vgg_c3_2": (8, 256, 56, 56, 256, 3, 1, 1),
    "resnet_3x3": (16, 64, 56, 56, 64, 3, 1, 1),
    "resnet_1x1": (16, 256, 56, 56, 64, 1, 1, 0),
    "resnet_s2": (16, 128, 28, 28, 256, 3, 2, 1),
}
MEM_CASES = {"max_pool2d": (64, 64, 112, 112), "relu": (64, 64, 112, 112)}


# Shapes the issue does not list, so that the algorithm choice is not tuned to the list alone:
# name: (op, x shape, w shape, keyword arguments). Not part of the geometric mean of the listed cases.
EXTRA_CASES = {
    "dilated_3x3": ("conv2d", (16, 64, 56, 56), (64, 64, 3, 3), dict(padding=2, dilation=2)),
    "grouped_3x3": ("conv2d", (16, 128, 28, 28), (128, 32, 3, 3), dict(padding=1, groups=4)),
    "depthwise_3x3": ("conv2d", (16, 128, 56, 56), (128, 1, 3, 3), dict(padding=1, groups=128)),
    "stem_7x7_s2": ("conv2d", (16, 3, 224, 224), (64, 3, 7, 7), dict(stride=2, padding=3)),
    "inception_5x5": ("conv2d", (32, 16, 28, 28), (32, 16, 5, 5), dict(padding=2)),
    "conv1d_k5": ("conv1d", (32, 64, 1024), (128, 64, 5), dict(padding=2)),
    "transposed_s2": ("conv_transpose2d", (16, 128, 28, 28), (128, 64, 4, 4), dict(stride=2, padding=1)),
}


def listed_case(shape):
    """An issue case (N, C, H, W, K, R, stride, pad) as (op, x shape, w shape, keywords)."""
    N, C, H, W, K, R, s, p = shape
    return "conv2d", (N, C, H, W), (K, C, R, R), dict(stride=s, padding=p)


def bench_conv(name, case, repeat, F, np, torch):
    from fastcnn.bench import median_time  # imported after main() has set FASTCNN_ISA
    op, xs, ws, kw = case
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs, dtype=np.float32)
    fan = int(np.prod(ws[1:]))
    w = (rng.standard_normal(ws, dtype=np.float32) / np.sqrt(fan)).astype(np.float32)
    out_channels = ws[1] * kw.get("groups", 1) if op == "conv_transpose2d" else ws[0]
    b = np.zeros(out_channels, np.float32)
    forward, backward = getattr(F, op), getattr(F, op + "_backward")
    y = forward(x, w, b, **kw)
    # direct-convolution multiply-adds: each output sums C/g*R*S products (a transposed conv:
    # each input scatters K/g*R*S)
    flop = 2.0 * (x.size if op == "conv_transpose2d" else y.size) * fan
    dy = np.ones_like(y)

    def fwd():
        forward(x, w, b, **kw)

    def fwdbwd():
        forward(x, w, b, **kw)
        backward(dy, x, w, b, **kw)

    time.sleep(SETTLE_S)
    row = {"case": name, "flop_fwd": flop, "fwd_s": median_time(fwd, repeat),
           "fwdbwd_s": median_time(fwdbwd, repeat)}
    if torch is not None:
        tx = torch.from_numpy(x).requires_grad_(True)
        tw = torch.from_numpy(w).requires_grad_(True)
        tb = torch.from_numpy(b).requires_grad_(True)
        tdy = torch.from_numpy(dy)
        top = getattr(torch.nn.functional, op)

        def tfwd():
            with torch.no_grad():
                top(tx, tw, tb, **kw)

        def tfwdbwd():
            top(tx, tw, tb, **kw).backward(tdy)

        time.sleep(SETTLE_S)
        row["torch_fwd_s"] = median_time(tfwd, repeat)
        row["torch_fwdbwd_s"] = median_time(tfwdbwd, repeat)
    return row


def bench_mem(name, shape, repeat, F, np, torch):
    from fastcnn.bench import median_time
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape, dtype=np.float32)
    if name == "max_pool2d":
        def op(out=None):
            return F.max_pool2d(x, 2, out=out)
        tname = "max_pool2d"
    else:
        def op(out=None):
            return F.relu(x, out=out)
        tname = "relu"
    y = op()
    bytes_fwd = x.nbytes + y.nbytes
    # allocating (a fresh result each call, like the PyTorch call timed beside it) and into a reused
    # out= array (what a layer does every training step: no page faults on new memory)
    time.sleep(SETTLE_S)
    row = {"case": name, "bytes_fwd": bytes_fwd, "fwd_s": median_time(op, repeat),
           "fwd_out_s": median_time(lambda: op(y), repeat)}
    if torch is not None:
        tx = torch.from_numpy(x)
        tf = (lambda: torch.nn.functional.max_pool2d(tx, 2)) if tname == "max_pool2d" else (
            lambda: torch.relu(tx))
        time.sleep(SETTLE_S)
        row["torch_fwd_s"] = median_time(tf, repeat)
    return row


def fmt_ms(t):
    return "" if t is None else f"{t * 1e3:9.2f}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    ap.add_argument("--isa", choices=["scalar", "baseline", "avx2", "avx512"], help="force the kernel ISA")
    ap.add_argument("--repeat", type=int, default=7, help="timed runs per measurement (median)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="also write the rows to this file")
    ap.add_argument("--no-torch", action="store_true", help="skip PyTorch even if it is installed")
    args = ap.parse_args(argv)
    if args.isa:
        os.environ["FASTCNN_ISA"] = args.isa

    import numpy as np
    import fastcnn
    import fastcnn.functional as F

    torch = None
    if not args.no_torch:
        try:
            import torch  # noqa: F811
            torch.set_num_threads(args.threads)
        except ImportError:
            print("PyTorch not installed: its columns stay empty", file=sys.stderr)
    fastcnn.set_num_threads(args.threads)
    info = fastcnn.info()
    isa = info["isa"]
    peak = PEAK_GFLOPS_PER_CORE.get(isa, 1.0) * args.threads

    all_cases = list(CONV_CASES) + list(MEM_CASES) + list(EXTRA_CASES)
    chosen = [c for c in args.cases.split(",") if c] or all_cases
    unknown = [c for c in chosen if c not in all_cases]
    if unknown:
        ap.error(f"unknown case(s) {unknown}; known: {', '.join(all_cases)}")

    rows = []
    for name in chosen:
        if name in CONV_CASES:
            row = bench_conv(name, listed_case(CONV_CASES[name]), args.repeat, F, np, torch)
        elif name in EXTRA_CASES:
            row = bench_conv(name, EXTRA_CASES[name], args.repeat, F, np, torch)
        else:
            row = bench_mem(name, MEM_CASES[name], args.repeat, F, np, torch)
        rows.append(row)
        print(f"done {name}", file=sys.stderr, flush=True)

    print(f"\nfastcnn {info['version']} isa={isa} threads={args.threads} "
          f"peak={peak:.0f} GFLOP/s copy={COPY_GBS:.0f} GB/s; torch={'yes ' + torch.__version__ if torch else 'no'}")
    print(f"{'case':<12}{'fwd ms':>9}{'rate':>12}{'%peak':>7}{'f+b ms':>9}{'rate':>12}{'%peak':>7}"
          f"{'torch fwd':>10}{'torch f+b':>10}{'x fwd':>7}{'x f+b':>7}")
    geo, geo_extra = [], []
    for r in rows:
        if "flop_fwd" in r:
            rf = r["flop_fwd"] / r["fwd_s"] / 1e9
            rb = 3 * r["flop_fwd"] / r["fwdbwd_s"] / 1e9
            rate_f, pct_f = f"{rf:8.1f} GF/s", f"{100 * rf / peak:6.1f}"
            rate_b, pct_b = f"{rb:8.1f} GF/s", f"{100 * rb / peak:6.1f}"
        else:
            gbs = r["bytes_fwd"] / r["fwd_s"] / 1e9
            rate_f, pct_f = f"{gbs:8.1f} GB/s", f"{100 * gbs / COPY_GBS:6.1f}"
            rate_b, pct_b = "", ""
        tf, tb = r.get("torch_fwd_s"), r.get("torch_fwdbwd_s")
        xf = f"{tf / r['fwd_s']:7.2f}" if tf else ""
        xb = f"{tb / r['fwdbwd_s']:7.2f}" if tb and r.get("fwdbwd_s") else ""
        if tb and r.get("fwdbwd_s"):
            (geo if r["case"] in CONV_CASES else geo_extra).append(tb / r["fwdbwd_s"])
        print(f"{r['case']:<12}{fmt_ms(r['fwd_s'])}{rate_f:>12}{pct_f:>7}{fmt_ms(r.get('fwdbwd_s')):>9}"
              f"{rate_b:>12}{pct_b:>7}{fmt_ms(tf):>10}{fmt_ms(tb):>10}{xf:>7}{xb:>7}")
    for r in rows:
        if "fwd_out_s" in r:
            gbs = r["bytes_fwd"] / r["fwd_out_s"] / 1e9
            print(f"{r['case']} into a reused out= array: {fmt_ms(r['fwd_out_s']).strip()} ms, {gbs:.1f} GB/s "
                  f"({100 * gbs / COPY_GBS:.0f}% of copy)")
    if geo:
        g = float(np.exp(np.mean(np.log(geo))))
        print(f"geometric mean speed vs PyTorch (conv fwd+bwd): {g:.2f}x over {len(geo)} cases")
    if geo_extra:
        g = float(np.exp(np.mean(np.log(geo_extra))))
        print(f"  shapes not in the issue's list: {g:.2f}x over {len(geo_extra)} cases, lowest {min(geo_extra):.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"info": info, "threads": args.threads, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
