"""GPU benchmarks: fastcnn's CUDA kernels side by side with PyTorch (cuDNN) on the same GPU.

    python benchmarks/bench_gpu.py                    # everything, within --budget seconds (480)
    python benchmarks/bench_gpu.py --quick            # fewer conv cases
    python benchmarks/bench_gpu.py --dry-run          # the same script on the CPU with tiny shapes (no GPU needed)

Parts, each in its own process (a fault that breaks the CUDA context loses only that part) and
skipped once the time budget is spent:
  mem      device copy (both libraries; the bandwidth yardstick), max_pool2d 2x2/2 and ReLU on (64,64,112,112)
  lenet    one LeNet-5 MNIST training epoch: fastcnn model.to('cuda') + fit vs the PyTorch model of
           bench_lenet.py, data on the device
  conv-P   every conv case of bench_kernels.py, forward and forward+backward through fastcnn.functional on
           device arrays vs torch.nn.functional, at precision P: fp32 (TF32 off in both), tf32, bf16
Times are medians of --repeat samples after warm-up; a sample is synchronize, enough calls to fill
about 2 ms, synchronize. err is the relative error by norm of fastcnn's y, dx, dw, db (the largest)
against PyTorch in fp32 with TF32 off. The table is printed last.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_kernels import CONV_CASES, MEM_CASES  # noqa: E402  (the CPU-speed issue's cases)

PRECISIONS = ["fp32", "tf32", "bf16"]
QUICK_CASES = ["lenet_c1", "lenet_c2", "resnet_3x3", "resnet_1x1"]
# Seconds a part may take at most, and the least budget left worth starting it with.
PART_CAP_S = {"mem": 90, "lenet": 120, "conv": 150}
PART_MIN_S = {"mem": 15, "lenet": 30, "conv": 20}


# ---- one part, in a child process ---------------------------------------------------------------

class Env:
    """fastcnn and torch on the GPU, or on the CPU for --dry-run."""

    def __init__(self, dry: bool):
        import torch
        import fastcnn
        import fastcnn.functional as F
        self.dry, self.torch, self.fastcnn, self.F = dry, torch, fastcnn, F
        self.tdev = "cpu" if dry else "cuda"
        if dry:
            self.C = None
        else:
            import fastcnn.cuda
            from fastcnn import _C_cuda
            self.C = _C_cuda
            torch.backends.cudnn.benchmark = True

    def to_device(self, a):
        return a if self.dry else self.fastcnn.cuda.to_device(a)

    def host(self, a):
        return np.asarray(a) if isinstance(a, np.ndarray) else a.numpy()

    def sync(self):
        if not self.dry:
            self.fastcnn.cuda.synchronize()
            self.torch.cuda.synchronize()

    def set_precision(self, p):
        torch = self.torch
        tf32 = p == "tf32"
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        if not self.dry or hasattr(self.fastcnn, "set_precision"):  # a CPU-only build may lack it
            self.fastcnn.set_precision(p)

    def median_time(self, fn, repeat, warmup=2, sample_s=2e-3):
        for _ in range(warmup):
            fn()
        self.sync()
        t0 = time.perf_counter()
        fn()
        self.sync()
        inner = max(1, min(200, int(sample_s / max(time.perf_counter() - t0, 1e-7))))
        times = []
        for _ in range(repeat):
            self.sync()
            t0 = time.perf_counter()
            for _ in range(inner):
                fn()
            self.sync()
            times.append((time.perf_counter() - t0) / inner)
        return statistics.median(times)


def rel_err(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-30))


def conv_shape(name, dry):
    N, C, H, W, K, R, s, p = CONV_CASES[name]
    if dry:  # tiny: the script's logic, not the speed
        N, H, W = 1, min(H, 32), min(W, 32)
    return N, C, H, W, K, R, s, p


def part_conv(env, prec, cases, repeat):
    torch, F, tF = env.torch, env.F, env.torch.nn.functional
    rows = []
    for name in cases:
        row = {"part": "conv", "case": name, "precision": prec}
        rows.append(row)
        try:
            N, C, H, W, K, R, s, p = conv_shape(name, env.dry)
            rng = np.random.default_rng(0)
            x = rng.standard_normal((N, C, H, W), dtype=np.float32)
            w = (rng.standard_normal((K, C, R, R), dtype=np.float32) / np.sqrt(C * R * R)).astype(np.float32)
            b = rng.standard_normal(K, dtype=np.float32)
            P = (H + 2 * p - R) // s + 1
            Q = (W + 2 * p - R) // s + 1
            dy = rng.standard_normal((N, K, P, Q), dtype=np.float32)
            row["flop_fwd"] = 2.0 * N * K * C * R * R * P * Q

            # reference: PyTorch fp32, TF32 off
            env.set_precision("fp32")
            tx, tw, tb = (torch.from_numpy(a).to(env.tdev).requires_grad_() for a in (x, w, b))
            tdy = torch.from_numpy(dy).to(env.tdev)
            ty = tF.conv2d(tx, tw, tb, stride=s, padding=p)
            ref = [ty.detach().cpu().numpy()] + [g.cpu().numpy() for g in torch.autograd.grad(ty, (tx, tw, tb), tdy)]

            env.set_precision(prec)
            dx, dw, db, ddy = (env.to_device(a) for a in (x, w, b, dy))
            y = F.conv2d(dx, dw, db, stride=s, padding=p)
            grads = F.conv2d_backward(ddy, dx, dw, db, stride=s, padding=p)
            row["err"] = max(rel_err(env.host(a), r) for a, r in zip([y, *grads], ref))
            row["fwd_s"] = env.median_time(lambda: F.conv2d(dx, dw, db, stride=s, padding=p), repeat)
            row["fwdbwd_s"] = env.median_time(
                lambda: (F.conv2d(dx, dw, db, stride=s, padding=p),
                         F.conv2d_backward(ddy, dx, dw, db, stride=s, padding=p)), repeat)
        except Exception:
            row["error"] = traceback.format_exc(limit=3)
            print(f"conv {name} {prec}: fastcnn failed\n{row['error']}", file=sys.stderr)
        try:
            dt = torch.bfloat16 if prec == "bf16" else torch.float32
            env.set_precision(prec)
            tx, tw, tb = (torch.from_numpy(a).to(env.tdev, dt).requires_grad_() for a in (x, w, b))
            tdy = torch.from_numpy(dy).to(env.tdev, dt)

            def tfwd():
                with torch.no_grad():
                    tF.conv2d(tx, tw, tb, stride=s, padding=p)

            def tfwdbwd():
                torch.autograd.grad(tF.conv2d(tx, tw, tb, stride=s, padding=p), (tx, tw, tb), tdy)

            row["torch_fwd_s"] = env.median_time(tfwd, repeat)
            row["torch_fwdbwd_s"] = env.median_time(tfwdbwd, repeat)
        except Exception:
            row["torch_error"] = traceback.format_exc(limit=3)
            print(f"conv {name} {prec}: torch failed\n{row['torch_error']}", file=sys.stderr)
        print(f"done conv {name} {prec}", file=sys.stderr, flush=True)
    return rows


def part_mem(env, repeat):
    torch, F, tF = env.torch, env.F, env.torch.nn.functional
    shape = (2, 8, 32, 32) if env.dry else MEM_CASES["max_pool2d"]
    x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    dx = env.to_device(x)
    tx = torch.from_numpy(x).to(env.tdev)
    rows = []

    def run(name, nbytes, fc, tc, check):
        row = {"part": "mem", "case": name, "bytes": nbytes}
        rows.append(row)
        try:
            if check is not None:
                row["err"] = rel_err(env.host(check[0]()), check[1]().cpu().numpy())
            row["fwd_s"] = env.median_time(fc, repeat)
        except Exception:
            row["error"] = traceback.format_exc(limit=3)
            print(f"mem {name}: fastcnn failed\n{row['error']}", file=sys.stderr)
        try:
            row["torch_fwd_s"] = env.median_time(tc, repeat)
        except Exception:
            row["torch_error"] = traceback.format_exc(limit=3)
            print(f"mem {name}: torch failed\n{row['torch_error']}", file=sys.stderr)

    if env.dry:
        dst = np.empty_like(x)
        fcopy = lambda: np.copyto(dst, x)  # noqa: E731
    else:
        dst = env.C.empty(x.shape, "float32")
        fcopy = lambda: env.C.copy(dx, dst)  # noqa: E731
    tdst = torch.empty_like(tx)
    run("copy", 2 * x.nbytes, fcopy, lambda: tdst.copy_(tx), None)
    run("max_pool2d", x.nbytes + x.nbytes // 4, lambda: F.max_pool2d(dx, 2), lambda: tF.max_pool2d(tx, 2),
        (lambda: F.max_pool2d(dx, 2), lambda: tF.max_pool2d(tx, 2)))
    run("relu", 2 * x.nbytes, lambda: F.relu(dx), lambda: torch.relu(tx),
        (lambda: F.relu(dx), lambda: torch.relu(tx)))
    return rows


def mnist_60k(n):
    from fastcnn.datasets import mnist
    # Without local files load_data would try the network, which a GPU machine may not reach at all.
    dirs = [mnist.cache_dir()] + ([os.path.join(os.environ["FASTCNN_DATA"], "mnist")] if "FASTCNN_DATA" in os.environ else [])
    local = any(os.path.isdir(d) and os.listdir(d) for d in dirs)
    (x, y), (xv, yv) = mnist.load_data() if local else mnist.load_sample()
    note = ""
    if len(x) < n:  # no full MNIST here (no network): the shipped sample repeated, same cost per image
        note = f"MNIST sample of {len(x)} images repeated to {n}"
        reps = -(-n // len(x))
        x, y = np.concatenate([x] * reps)[:n], np.concatenate([y] * reps)[:n]
    return x[:n], y[:n], xv, yv, note


def part_lenet(env, dry):
    n = 6000 if dry else 60000
    x, y, xv, yv, note = mnist_60k(n)
    xt = x[:, None].astype(np.float32) / 255
    xe = xv[:, None].astype(np.float32) / 255
    row = {"part": "lenet", "case": "lenet5_epoch", "images": n, "note": note}
    try:
        fastcnn = env.fastcnn
        from fastcnn import models, optim
        fastcnn.seed(0)
        env.set_precision("fp32")
        model = models.lenet5()
        model.compile(optim.SGD(0.05, momentum=0.9))
        if not env.dry:
            model = model.to("cuda") or model
        model.fit(xt[:2048], y[:2048], batch_size=128, epochs=1, verbose=0)  # warm-up: buffers, first calls
        env.sync()
        t0 = time.perf_counter()
        model.fit(xt, y, batch_size=128, epochs=1, verbose=0)
        env.sync()
        row["epoch_s"] = time.perf_counter() - t0
        row["accuracy"] = float(np.mean(np.argmax(env.host(model.predict(xe, batch_size=1000)), 1) == yv))
    except Exception:
        row["error"] = traceback.format_exc(limit=4)
        print(f"lenet: fastcnn failed\n{row['error']}", file=sys.stderr)
    try:
        row["torch_epoch_s"], row["torch_accuracy"] = torch_lenet_epoch(env, xt, y, xe, yv)
    except Exception:
        row["torch_error"] = traceback.format_exc(limit=4)
        print(f"lenet: torch failed\n{row['torch_error']}", file=sys.stderr)
    return [row]


def torch_lenet_epoch(env, xt, y, xe, yv, batch=128):
    # the network and optimizer of bench_lenet.run_torch, with the data on the device
    torch = env.torch
    nn = torch.nn
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10)).to(env.tdev)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    X = torch.from_numpy(xt).to(env.tdev)
    Y = torch.from_numpy(y.astype(np.int64)).to(env.tdev)

    def epoch(n):
        perm = torch.randperm(n, device=env.tdev)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            nn.functional.cross_entropy(net(X[idx]), Y[idx]).backward()
            opt.step()

    epoch(2048)  # warm-up: cuDNN autotuning, allocator
    env.sync()
    t0 = time.perf_counter()
    epoch(len(X))
    env.sync()
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        pred = net(torch.from_numpy(xe).to(env.tdev)).argmax(1).cpu().numpy()
    return seconds, float(np.mean(pred == yv))


def run_part(args):
    env = Env(args.dry_run)
    if args.part == "mem":
        rows = part_mem(env, args.repeat)
    elif args.part == "lenet":
        rows = part_lenet(env, args.dry_run)
    else:
        rows = part_conv(env, args.part.split("-", 1)[1], args.cases.split(","), args.repeat)
    with open(args.rows_out, "w") as f:
        json.dump(rows, f)


# ---- the driver ------------------------------------------------------------------------------------

def describe(dry):
    """One line on the machine: GPU, PyTorch/cuDNN, fastcnn's CUDA status."""
    parts = []
    try:
        import torch
        parts.append(f"torch {torch.__version__}")
        if torch.cuda.is_available():
            parts.append(f"{torch.cuda.get_device_name(0)}, cuDNN {torch.backends.cudnn.version()}")
    except Exception as e:  # noqa: BLE001  (a description, never fatal)
        parts.append(f"torch unavailable: {e}")
    try:
        import fastcnn
        parts.append(f"fastcnn {fastcnn.__version__}")
        if not dry:
            from fastcnn import _C_cuda
            ok, why = _C_cuda.status()
            parts.append(f"fastcnn CUDA: {why}" + ("" if ok else " (UNAVAILABLE)"))
    except Exception as e:  # noqa: BLE001
        parts.append(f"fastcnn CUDA: {e}")
    return "; ".join(parts)


def fmt(t, scale=1e3, width=9, digits=3):
    return f"{t * scale:{width}.{digits}f}" if t else " " * (width - 1) + "-"


def ratio(a, b):
    return f"{a / b:7.2f}" if a and b else "      -"


def print_table(rows, header, skipped):
    print("\n" + "=" * 100)
    print(header)
    conv = [r for r in rows if r["part"] == "conv"]
    if conv:
        print(f"\n{'conv case':<12}{'prec':>5}{'fwd ms':>10}{'f+b ms':>10}{'TFLOP/s':>9}"
              f"{'torch fwd':>10}{'torch f+b':>10}{'x fwd':>7}{'x f+b':>7}{'err':>10}")
        for r in conv:
            tf = 3 * r["flop_fwd"] / r["fwdbwd_s"] / 1e12 if r.get("fwdbwd_s") and r.get("flop_fwd") else None
            err = f"{r['err']:10.1e}" if "err" in r else "         -"
            print(f"{r['case']:<12}{r['precision']:>5}{fmt(r.get('fwd_s'), width=10)}{fmt(r.get('fwdbwd_s'), width=10)}"
                  f"{fmt(tf, 1, 9, 1)}{fmt(r.get('torch_fwd_s'), width=10)}{fmt(r.get('torch_fwdbwd_s'), width=10)}"
                  f"{ratio(r.get('torch_fwd_s'), r.get('fwd_s'))}{ratio(r.get('torch_fwdbwd_s'), r.get('fwdbwd_s'))}"
                  f"{err}{'  FAILED' if 'error' in r else ''}")
        for prec in PRECISIONS:
            x = [r["torch_fwdbwd_s"] / r["fwdbwd_s"] for r in conv
                 if r["precision"] == prec and r.get("fwdbwd_s") and r.get("torch_fwdbwd_s")]
            if x:
                g = math.exp(sum(map(math.log, x)) / len(x))
                print(f"geometric mean speed vs cuDNN, conv fwd+bwd, {prec}: {g:.2f}x over {len(x)} cases "
                      f"(target >= 1.0x)")
    mem = [r for r in rows if r["part"] == "mem"]
    if mem:
        copy_gbs = max([r["bytes"] / r[k] / 1e9 for r in mem if r["case"] == "copy"
                        for k in ("fwd_s", "torch_fwd_s") if r.get(k)], default=None)
        print(f"\n{'memory op':<12}{'ms':>9}{'GB/s':>9}{'% copy':>8}{'torch ms':>10}{'torch GB/s':>11}{'x':>7}{'err':>10}")
        for r in mem:
            gbs = r["bytes"] / r["fwd_s"] / 1e9 if r.get("fwd_s") else None
            tgbs = r["bytes"] / r["torch_fwd_s"] / 1e9 if r.get("torch_fwd_s") else None
            pct = f"{100 * gbs / copy_gbs:8.1f}" if gbs and copy_gbs else "       -"
            err = f"{r['err']:10.1e}" if "err" in r else "         -"
            print(f"{r['case']:<12}{fmt(r.get('fwd_s'))}{fmt(gbs, 1, 9, 0)}{pct}{fmt(r.get('torch_fwd_s'), width=10)}"
                  f"{fmt(tgbs, 1, 11, 0)}{ratio(r.get('torch_fwd_s'), r.get('fwd_s'))}{err}"
                  f"{'  FAILED' if 'error' in r else ''}")
        if copy_gbs:
            print(f"device copy bandwidth (best of both libraries): {copy_gbs:.0f} GB/s; "
                  f"target: max_pool2d and relu >= 80%")
    for r in (r for r in rows if r["part"] == "lenet"):
        e, t = r.get("epoch_s"), r.get("torch_epoch_s")
        print(f"\nLeNet-5 MNIST epoch ({r['images']} images, batch 128){' [' + r['note'] + ']' if r.get('note') else ''}")
        print(f"  fastcnn {fmt(e, 1, 8, 3)} s  accuracy {r.get('accuracy', float('nan')):.4f}"
              f"{'  FAILED' if 'error' in r else ''}")
        print(f"  PyTorch {fmt(t, 1, 8, 3)} s  accuracy {r.get('torch_accuracy', float('nan')):.4f}")
        print(f"  speed vs PyTorch {ratio(t, e).strip()}x (target: <= 0.15 s and >= 5x)")
    failed = [f"{r['part']} {r['case']} {r.get('precision', '')}".strip() for r in rows
              if "error" in r or "torch_error" in r]
    if failed:
        print("\nfailed (tracebacks above): " + ", ".join(failed))
    if skipped:
        print("skipped: " + ", ".join(skipped))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help=f"conv cases {','.join(QUICK_CASES)} only")
    ap.add_argument("--dry-run", action="store_true", help="run on the CPU with tiny shapes (checks the script)")
    ap.add_argument("--budget", type=float, default=480, help="seconds for everything (default 480)")
    ap.add_argument("--repeat", type=int, default=7, help="timed samples per measurement (median; >= 7)")
    ap.add_argument("--parts", default="mem,lenet,conv-fp32,conv-tf32,conv-bf16", help="parts to run, in order")
    ap.add_argument("--cases", default="", help="comma-separated conv cases (default: all, or --quick's)")
    ap.add_argument("--json", help="also write all rows to this file")
    ap.add_argument("--part", help=argparse.SUPPRESS)      # child process: run one part ...
    ap.add_argument("--rows-out", help=argparse.SUPPRESS)  # ... and write its rows here
    args = ap.parse_args(argv)
    args.cases = args.cases or ",".join(QUICK_CASES if args.quick else CONV_CASES)
    unknown = [c for c in args.cases.split(",") if c not in CONV_CASES]
    if unknown:
        ap.error(f"unknown conv case(s) {unknown}; known: {', '.join(CONV_CASES)}")
    if args.part:
        return run_part(args)

    deadline = time.monotonic() + args.budget
    header = describe(args.dry_run)
    print(header, flush=True)
    if not args.dry_run:
        try:
            from fastcnn import _C_cuda
            ok, why = _C_cuda.status()
        except ImportError as e:
            ok, why = False, f"fastcnn._C_cuda not built: {e}"
        if not ok:
            print(f"no GPU for fastcnn ({why}): nothing to benchmark (use --dry-run to check the script)")
            return 0
    rows, skipped = [], []
    for part in args.parts.split(","):
        kind = part.split("-")[0]
        left = deadline - time.monotonic()
        if left < PART_MIN_S[kind]:
            skipped.append(f"{part} (time budget spent)")
            continue
        with tempfile.NamedTemporaryFile(suffix=".json") as f:
            cmd = [sys.executable, os.path.abspath(__file__), "--part", part, "--rows-out", f.name,
                   "--cases", args.cases, "--repeat", str(args.repeat)] + (["--dry-run"] if args.dry_run else [])
            t0 = time.monotonic()
            try:
                rc = subprocess.run(cmd, timeout=min(left, PART_CAP_S[kind])).returncode
                part_rows = json.load(open(f.name)) if os.path.getsize(f.name) else []
                if rc != 0 or not part_rows:
                    skipped.append(f"{part} (exit status {rc}, no results)")
                rows += part_rows
            except subprocess.TimeoutExpired:
                skipped.append(f"{part} (killed after {time.monotonic() - t0:.0f} s)")
            print(f"-- {part}: {time.monotonic() - t0:.1f} s", file=sys.stderr, flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": header, "rows": rows, "skipped": skipped}, f, indent=1)
    print_table(rows, header, skipped)
    return 0


if __name__ == "__main__":
    sys.exit(main())
