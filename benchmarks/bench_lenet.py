"""LeNet-5 (MNIST variant) end to end: one training epoch on full MNIST and inference over the 10k
test images, fastcnn and PyTorch CPU side by side in one run (PyTorch optional).

    python benchmarks/bench_lenet.py                  # 1 epoch each, 2 threads
    python benchmarks/bench_lenet.py --epochs 3 --threads 1 --json out.json
    python benchmarks/bench_lenet.py --profile        # per-phase / per-layer breakdown of a step

--profile times 200 training steps and 10k-image inference of fastcnn only (random MNIST-sized
data, no download), with every layer's forward/backward and every _C kernel call timed: a layer's
time minus its kernels' time is its Python time. Timers add about 1 us per call. A conv and the
max-pool the model runs with it in one kernel call show as one row "<conv>+pool.f". The step's
loss, its gradient and the accuracy count are one phase (loss+grad+acc, one kernel call) where fit
fuses them; --no-fused times the general path (loss, loss_grad, metric). "host" sums the phases
outside forward and backward.

Both train the same network (conv 6@5x5 same tanh, max-pool 2, conv 16@5x5 tanh, max-pool 2,
dense 120 tanh, 84 tanh, 10) with SGD momentum 0.9, lr 0.05, batch 128, shuffled each epoch.
MNIST comes from $FASTCNN_DATA/mnist or the other places fastcnn.datasets.mnist looks.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

# forward FLOP per image: conv1, conv2, dense layers (multiply-add = 2)
FLOP_PER_IMAGE = 2 * (28 * 28 * 6 * 25 + 10 * 10 * 16 * 150 + 400 * 120 + 120 * 84 + 84 * 10)


def run_fastcnn(x_train, y_train, x_test, y_test, epochs, batch):
    import fastcnn
    from fastcnn import models, optim

    fastcnn.seed(0)
    model = models.lenet5()
    model.compile(optim.SGD(0.05, momentum=0.9))
    xt = x_train[:, None].astype(np.float32) / 255
    xv = x_test[:, None].astype(np.float32) / 255
    model.predict(xv[:256], batch_size=batch)  # warm-up: buffers, first-call costs
    epoch_s, acc = [], []
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.fit(xt, y_train, batch_size=batch, epochs=1, verbose=0)
        epoch_s.append(time.perf_counter() - t0)
        acc.append(float(np.mean(np.argmax(model.predict(xv, batch_size=1000), 1) == y_test)))
    t0 = time.perf_counter()
    model.predict(xv, batch_size=1000)
    infer_s = time.perf_counter() - t0
    return {"epoch_s": epoch_s, "test_accuracy": acc, "infer_s": infer_s}


def run_torch(torch, x_train, y_train, x_test, y_test, epochs, batch):
    nn = torch.nn
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    xt = torch.from_numpy(x_train[:, None].astype(np.float32) / 255)
    yt = torch.from_numpy(y_train.astype(np.int64))
    xv = torch.from_numpy(x_test[:, None].astype(np.float32) / 255)
    epoch_s, acc = [], []
    for _ in range(epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(len(xt))
        net.train()
        for i in range(0, len(xt), batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        epoch_s.append(time.perf_counter() - t0)
        net.eval()
        with torch.no_grad():
            acc.append(float((net(xv).argmax(1).numpy() == y_test).mean()))
    with torch.no_grad():
        t0 = time.perf_counter()
        for i in range(0, len(xv), 1000):
            net(xv[i:i + 1000])
        infer_s = time.perf_counter() - t0
    return {"epoch_s": epoch_s, "test_accuracy": acc, "infer_s": infer_s}


def profile(threads, steps=200, batch=128, fused=True):
    """Print the breakdown of one training step and of inference (see the module docstring)."""
    import collections
    import functools

    import fastcnn
    from fastcnn import _C, models, optim
    from fastcnn import training as T

    fastcnn.set_num_threads(threads)
    fastcnn.seed(0)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (steps * batch, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, len(x))
    model = models.lenet5()
    model.compile(optim.SGD(0.05, momentum=0.9))
    model._fuse_loss_step = fused
    model.fit(x[:10 * batch], y[:10 * batch], batch_size=batch, epochs=1, verbose=0)  # warm-up
    acc = collections.defaultdict(float)
    stack = []
    patched = []

    def timed(obj, attr, key):
        f = getattr(obj, attr)

        def wrapper(*a, **k):
            label = key() if callable(key) else key
            stack.append(label[1])
            t = time.perf_counter()
            try:
                return f(*a, **k)
            finally:
                acc[label] += time.perf_counter() - t
                stack.pop()
        patched.append((obj, attr, attr in vars(obj), vars(obj).get(attr)))
        setattr(obj, attr, wrapper)

    for name in dir(_C):  # kernel calls, charged to the layer or phase that made them
        if not name.startswith("_") and callable(getattr(_C, name)) and "num_threads" not in name:
            timed(_C, name, lambda n=name: ("C", (stack[-1] if stack else "?") + "|" + n))
    for layer in model.layers:
        for meth in ("forward", "backward"):
            timed(layer, meth, ("L", f"{layer.name}.{meth[0]}"))
        if hasattr(layer, "forward_pooled"):  # the model's conv + max-pool in one call
            timed(layer, "forward_pooled", ("L", f"{layer.name}+pool.f"))
    for obj, attr, label in ((model, "forward", "forward"), (model, "backward", "backward"),
                             (model.optimizer, "step", "optimizer"), (T._Inputs, "batch", "batch")):
        timed(obj, attr, ("P", label))
    loss_cls = type(model.loss)
    timed(loss_cls, "__call__", ("P", "loss"))
    timed(loss_cls, "gradient", ("P", "loss_grad"))
    if model._fused_loss_applies(y):  # fit's one-call loss, gradient and accuracy count
        timed(model, "_fused_loss", ("P", "loss+grad+acc"))
    else:
        model.metric_fns = [(n, functools.partial(_timed_call, acc, ("P", "metric"), f))
                            for n, f in model.metric_fns]
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
    total = time.perf_counter() - t0
    ms = lambda v: v / steps * 1e3  # noqa: E731
    phases = {k[1]: v for k, v in acc.items() if k[0] == "P"}

    def kernels(label):
        return {k[1].split("|")[1]: v for k, v in acc.items() if k[0] == "C" and k[1].split("|")[0] == label}

    print(f"\ntraining step, batch {batch}, {threads} thread(s), {'fused' if fused else 'general'} loss step: "
          f"{ms(total):.3f} ms ({total / steps * 469:.2f} s per 469-step epoch)")
    names = [k for k in ("batch", "forward", "loss", "loss_grad", "metric", "loss+grad+acc", "backward",
                         "optimizer") if k in phases or k in ("batch", "forward", "backward", "optimizer")]
    for k in names:
        print(f"  {k:14}{ms(phases.get(k, 0)):8.3f} ms")
    rest = total - sum(phases.values())
    print(f"  {'fit loop rest':14}{ms(rest):8.3f} ms")
    host = rest + sum(v for k, v in phases.items() if k not in ("forward", "backward"))
    print(f"  {'host':14}{ms(host):8.3f} ms  (all but forward and backward)")
    print(f"  {'layer / phase':22}{'total':>8}{'kernels':>8}{'python':>8}  ms per step; kernel calls")
    rows = [k[1] for k in acc if k[0] == "L"] + [k for k in names if k not in ("forward", "backward")]
    for label in rows:
        t = acc.get(("L", label), phases.get(label, 0.0))
        ks = kernels(label)
        print(f"  {label:22}{ms(t):8.3f}{ms(sum(ks.values())):8.3f}{ms(t - sum(ks.values())):8.3f}  "
              + ", ".join(f"{n} {ms(v):.3f}" for n, v in ks.items()))
    xv = x[:10000]
    model.predict(xv[:2000], batch_size=1000)
    acc.clear()
    t0 = time.perf_counter()
    model.predict(xv, batch_size=1000)
    total = time.perf_counter() - t0
    print(f"inference, 10k images in batches of 1000, {threads} thread(s): {total * 1e3:.1f} ms")
    for label in [k[1] for k in acc if k[0] == "L"]:
        ks = kernels(label)
        print(f"  {label:22}{acc[('L', label)] * 1e3:8.2f} ms, kernels {sum(ks.values()) * 1e3:8.2f} ms")
    for obj, attr, had, original in reversed(patched):
        if had:
            setattr(obj, attr, original)
        else:
            delattr(obj, attr)


def _timed_call(acc, label, f, *a):
    t = time.perf_counter()
    try:
        return f(*a)
    finally:
        acc[label] += time.perf_counter() - t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--profile", action="store_true",
                    help="per-phase / per-layer breakdown of a fastcnn training step and inference, "
                         "with 1 and --threads threads (no MNIST, no PyTorch)")
    ap.add_argument("--no-fused", action="store_true",
                    help="--profile: the general loss / gradient / metric calls instead of fit's fused one")
    args = ap.parse_args(argv)
    if args.profile:
        for threads in sorted({1, args.threads}):
            profile(threads, batch=args.batch_size, fused=not args.no_fused)
        return

    import fastcnn
    from fastcnn.datasets import mnist

    fastcnn.set_num_threads(args.threads)
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    results = {"fastcnn": run_fastcnn(x_train, y_train, x_test, y_test, args.epochs, args.batch_size)}
    torch = None
    if not args.no_torch:
        try:
            import torch
            torch.set_num_threads(args.threads)
        except ImportError:
            print("PyTorch not installed: fastcnn only", file=sys.stderr)
    if torch is not None:
        results["pytorch"] = run_torch(torch, x_train, y_train, x_test, y_test, args.epochs, args.batch_size)

    n = len(x_train)
    print(f"\nLeNet-5, MNIST {n} training / {len(x_test)} test images, batch {args.batch_size}, "
          f"{args.threads} threads, isa={fastcnn.info()['isa']}"
          + (f", torch {torch.__version__}" if torch is not None else ""))
    print(f"{'':10}{'epoch s (median)':>18}{'GFLOP/s':>9}{'infer 10k s':>13}{'to 99.0%':>16}  test accuracy per epoch")
    for name, r in results.items():
        e = float(np.median(r["epoch_s"]))
        gflops = 3 * FLOP_PER_IMAGE * n / e / 1e9
        accs = " ".join(f"{a:.4f}" for a in r["test_accuracy"])
        hit = next((i for i, a in enumerate(r["test_accuracy"]) if a >= 0.99), None)
        to99 = "not reached" if hit is None else f"ep {hit + 1}, {sum(r['epoch_s'][:hit + 1]):.1f} s"
        print(f"{name:10}{e:18.2f}{gflops:9.1f}{r['infer_s']:13.3f}{to99:>16}  {accs}")
    if "pytorch" in results:
        f, t = results["fastcnn"], results["pytorch"]
        print(f"speed vs PyTorch: training {np.median(t['epoch_s']) / np.median(f['epoch_s']):.2f}x, "
              f"inference {t['infer_s'] / f['infer_s']:.2f}x")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"threads": args.threads, "batch_size": args.batch_size, "results": results}, fh, indent=1)


if __name__ == "__main__":
    main()
