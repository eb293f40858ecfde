"""Make python/fastcnn/datasets/data/mnist_sample.npz: the first digits of real MNIST.

    python tools/make_mnist_sample.py [MNIST_DIR] [--train 5000] [--test 1000]

MNIST_DIR holds the four IDX files (default ../shared/data/mnist). MNIST is by Yann LeCun,
Corinna Cortes and Christopher J.C. Burges, distributed under CC BY-SA 3.0.
"""
import argparse
import os
import sys

import numpy as np

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(root, "python"))
from fastcnn.datasets import mnist  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("mnist_dir", nargs="?", default=os.path.join(root, "..", "shared", "data", "mnist"))
parser.add_argument("--train", type=int, default=5000)
parser.add_argument("--test", type=int, default=1000)
args = parser.parse_args()

(x_train, y_train), (x_test, y_test) = mnist.load_data(args.mnist_dir)
out = mnist.SAMPLE_PATH
np.savez_compressed(out, x_train=x_train[:args.train], y_train=y_train[:args.train],
                    x_test=x_test[:args.test], y_test=y_test[:args.test])
print(f"wrote {out}: {args.train} train + {args.test} test digits, {os.path.getsize(out)} bytes")
