"""LeNet-5 (MNIST variant) end to end: one training epoch on full MNIST and inference over the 10k
test images, fastcnn and PyTorch CPU side by side in one run (PyTorch optional).

    python benchmarks/bench_lenet.py                  # 1 epoch each, 2 threads
    python benchmarks/bench_lenet.py --epochs 3 --threads 1 --json out.json

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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args(argv)

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
