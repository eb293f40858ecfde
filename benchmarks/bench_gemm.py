"""SGEMM benchmark: fastcnn's packed GEMM (`_C.sgemm`) against numpy's matmul (OpenBLAS), same run.

Shapes: 2048^3 and the GEMMs the convolution cases of bench_kernels.py produce per sample and group
(im2col: forward M=K, N=P*Q, K=C*R*S; backward-data op(A)=w^T; backward-weight op(B)=col^T), and with
--dense the GEMMs of LeNet-5's dense layers (linear_forward y = x w^T, backward dx = dy w, dw = dy^T x;
batch 128 for training, 1000 for inference: small shapes where packing and threading costs show). Each
shape runs with 1 and 2 threads (fastcnn.set_num_threads, openblas_set_num_threads), the two libraries
interleaved call by call so that both see the same machine load; the median of --repeat calls after
warm-up is reported as GFLOP/s, % of the FMA peak and fastcnn's speed relative to numpy (above 1:
fastcnn faster).

    python benchmarks/bench_gemm.py                          # forward conv shapes + 2048^3
    python benchmarks/bench_gemm.py --passes fwd,bwd_data,bwd_weight --threads 2 --json out.json
    python benchmarks/bench_gemm.py --compare /tmp/old/_C.cpython-311-x86_64-linux-gnu.so   # + an older build
    python benchmarks/bench_gemm.py --dense --no-square --cases ''   # only the LeNet dense layers

OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed from the environment before numpy loads OpenBLAS,
so that it picks its own kernel for this CPU (the core name is printed). OPENBLAS_THREAD_TIMEOUT is
set to 4 (its shortest spin, 2^4 cycles) unless given: with the libraries interleaved call by call,
OpenBLAS's idle threads otherwise spin on the cores fastcnn's next call needs (seen on the Zen 5 VM:
fastcnn 253 against 507 GFLOP/s at 2048^3 on 2 threads; 491 against 486 with the short spin; fastcnn
alone 503-507).
"""
from __future__ import annotations

import argparse
import ctypes
import glob
import importlib.util
import json
import os
import statistics
import sys
import time

for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(var, None)
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_kernels import CONV_CASES, PEAK_GFLOPS_PER_CORE  # noqa: E402

GEMM_CASES = ["vgg_c3_2", "resnet_3x3", "resnet_1x1", "alexnet_c1", "resnet_s2"]
# LeNet-5's dense layers: (batch, inputs, outputs)
DENSE_CASES = {"lenet_d1": (128, 400, 120), "lenet_d2": (128, 120, 84), "lenet_d3": (128, 84, 10),
               "lenet_d1_infer": (1000, 400, 120)}


def dense_gemm_shapes(name, passes):
    """(label, M, N, K, trans_a, trans_b) of dense case `name`'s GEMMs (as csrc/cpu/kernels/linear.cpp calls them)."""
    B, C, K = DENSE_CASES[name]
    out = []
    if "fwd" in passes:
        out.append((f"{name} fwd", B, K, C, False, True))         # y = x w^T
    if "bwd_data" in passes and not name.endswith("infer"):
        out.append((f"{name} bwd_data", B, C, K, False, False))   # dx = dy w
    if "bwd_weight" in passes and not name.endswith("infer"):
        out.append((f"{name} bwd_weight", K, C, B, True, False))  # dw = dy^T x
    return out


def conv_gemm_shapes(name, passes):
    """(label, M, N, K, trans_a, trans_b) of one sample's GEMMs for conv case `name` (groups=1)."""
    N_, C, H, W, K, R, s, p = CONV_CASES[name]
    P = (H + 2 * p - R) // s + 1
    PQ, CRS = P * P, C * R * R
    out = []
    if "fwd" in passes:
        out.append((f"{name} fwd", K, PQ, CRS, False, False))          # y = w . col
    if "bwd_data" in passes:
        out.append((f"{name} bwd_data", CRS, PQ, K, True, False))      # dcol = w^T . dy
    if "bwd_weight" in passes:
        out.append((f"{name} bwd_weight", K, CRS, PQ, False, True))    # dw = dy . col^T
    return out


class OpenBlasThreads:
    """Sets OpenBLAS's thread count through the library numpy loaded (symbol names vary by build)."""

    def __init__(self, np):
        libs = glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs", "*openblas*"))
        self.set = self.corename = None
        for path in libs:
            lib = ctypes.CDLL(path)
            for prefix, suffix in (("scipy_", "64_"), ("", "64_"), ("", "")):
                try:
                    self.set = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}")
                    core = getattr(lib, f"{prefix}openblas_get_corename{suffix}")
                    core.restype = ctypes.c_char_p
                    self.corename = core().decode()
                    break
                except AttributeError:
                    continue
            if self.set:
                break

    def __call__(self, n):
        if self.set is None:
            raise SystemExit("cannot find openblas_set_num_threads in numpy's OpenBLAS")
        self.set(ctypes.c_int(n))


def load_other_module(path):
    spec = importlib.util.spec_from_file_location("fastcnn_compare._C", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def bench_shape(fns, repeat, warmup, clock):
    """Median seconds of each fn, the fns called in turn within every repetition."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    for _ in range(repeat):
        for t, fn in zip(times, fns):
            t0 = clock()
            fn()
            t.append(clock() - t0)
    return [statistics.median(t) for t in times]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--passes", default="fwd", help="comma list of fwd, bwd_data, bwd_weight (default fwd)")
    ap.add_argument("--cases", default=",".join(GEMM_CASES), help="conv cases whose GEMMs to run")
    ap.add_argument("--threads", default="1,2", help="thread counts (default 1,2)")
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--no-square", action="store_true", help="skip 2048^3")
    ap.add_argument("--dense", action="store_true", help="add the LeNet-5 dense layers' GEMMs (every pass asked for)")
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                    help="wall: elapsed time; cpu: for 1-thread rows the calling thread's CPU time (both libraries "
                         "compute in it; time other processes take the core is not counted), other rows wall")
    ap.add_argument("--isa", help="force fastcnn's kernel ISA (sets FASTCNN_ISA)")
    ap.add_argument("--compare", help="path of another build's _C module, timed in the same run")
    ap.add_argument("--json", help="write the rows to this file")
    args = ap.parse_args(argv)
    if args.isa:
        os.environ["FASTCNN_ISA"] = args.isa
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")

    import numpy as np

    import fastcnn
    from fastcnn import _C

    blas_threads = OpenBlasThreads(np)
    other = load_other_module(args.compare) if args.compare else None
    isa = fastcnn.info()["isa"]
    peak_core = PEAK_GFLOPS_PER_CORE[isa]
    passes = set(args.passes.split(","))
    shapes = [] if args.no_square else [("square 2048", 2048, 2048, 2048, False, False)]
    for name in filter(None, args.cases.split(",")):
        shapes += conv_gemm_shapes(name, passes)
    if args.dense:
        for name in DENSE_CASES:
            shapes += dense_gemm_shapes(name, passes)
    threads = [int(t) for t in args.threads.split(",")]

    rng = np.random.default_rng(0)
    rows = []
    old_threads = fastcnn.get_num_threads()
    try:
        for label, M, N, K, ta, tb in shapes:
            A = rng.standard_normal((K, M) if ta else (M, K), dtype=np.float32)
            B = rng.standard_normal((N, K) if tb else (K, N), dtype=np.float32)
            opA, opB = (A.T if ta else A), (B.T if tb else B)
            C = np.zeros((M, N), np.float32)
            C_np = np.zeros((M, N), np.float32)
            fns = [lambda: _C.sgemm(A, B, C, ta, tb, 1.0, 0.0), lambda: np.matmul(opA, opB, out=C_np)]
            if other is not None:
                C_other = np.zeros((M, N), np.float32)
                fns.append(lambda: other.sgemm(A, B, C_other, ta, tb, 1.0, 0.0))
            flop = 2.0 * M * N * K
            for t in threads:
                fastcnn.set_num_threads(t)
                blas_threads(t)
                clock = time.thread_time if args.clock == "cpu" and t == 1 else time.perf_counter
                secs = bench_shape(fns, args.repeat, args.warmup, clock)
                row = {"shape": label, "M": M, "N": N, "K": K, "trans_a": ta, "trans_b": tb, "threads": t,
                       "fastcnn_s": secs[0], "numpy_s": secs[1],
                       "fastcnn_gflops": flop / secs[0] / 1e9, "numpy_gflops": flop / secs[1] / 1e9,
                       "peak_gflops": peak_core * t}
                if other is not None:
                    row["compare_s"] = secs[2]
                    row["compare_gflops"] = flop / secs[2] / 1e9
                rows.append(row)
                print(f"  {label:22s} t={t} fastcnn {row['fastcnn_gflops']:6.1f}  numpy {row['numpy_gflops']:6.1f}"
                      + (f"  compare {row['compare_gflops']:6.1f}" if other is not None else ""), flush=True)
    finally:
        fastcnn.set_num_threads(old_threads)

    print(f"\nSGEMM, fastcnn isa={isa} vs numpy {np.__version__} OpenBLAS core={blas_threads.corename}, "
          f"median of {args.repeat} ({args.clock} clock), GFLOP/s (%peak of {peak_core:.0f}/core)")
    head = f"{'shape':22s} {'M':>5s} {'N':>5s} {'K':>5s} {'thr':>3s} {'fastcnn':>15s} {'numpy':>15s} {'ratio':>6s}"
    if other is not None:
        head += f" {'compare':>15s} {'new/cmp':>7s}"
    print(head)
    for r in rows:
        pk = r["peak_gflops"]
        line = (f"{r['shape']:22s} {r['M']:5d} {r['N']:5d} {r['K']:5d} {r['threads']:3d} "
                f"{r['fastcnn_gflops']:7.1f} ({100 * r['fastcnn_gflops'] / pk:4.1f}%) "
                f"{r['numpy_gflops']:7.1f} ({100 * r['numpy_gflops'] / pk:4.1f}%) "
                f"{r['numpy_s'] / r['fastcnn_s']:6.2f}")
        if other is not None:
            line += (f" {r['compare_gflops']:7.1f} ({100 * r['compare_gflops'] / pk:4.1f}%) "
                     f"{r['compare_s'] / r['fastcnn_s']:7.2f}")
        print(line)
    for t in threads:
        ratios = [r["numpy_s"] / r["fastcnn_s"] for r in rows if r["threads"] == t]
        if ratios:
            gm = statistics.geometric_mean(ratios)
            print(f"threads={t}: geometric mean speed vs numpy {gm:.2f}x, lowest {min(ratios):.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"isa": isa, "openblas_core": blas_threads.corename, "repeat": args.repeat,
                       "clock": args.clock, "rows": rows},
                      f, indent=1)


if __name__ == "__main__":
    main()
