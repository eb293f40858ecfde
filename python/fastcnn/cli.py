"""The ``fastcnn`` command: train a network on MNIST, print a model summary, benchmark this machine,
print build facts.

    fastcnn train lenet5                       # reaches >= 99.0% test accuracy on full MNIST
    fastcnn train resnet18 --input-shape 1,28,28 --epochs 3 --optimizer adam
    fastcnn summary googlenet
    fastcnn bench                              # conv/pool/relu kernels (and PyTorch's times, if installed)
    fastcnn bench lenet5 --threads 1           # training steps and inference at batch 128
    fastcnn info
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

__all__ = ["main"]

# lenet5's defaults (SGD momentum 0.9, lr 0.05, cosine schedule, batch 128, 12 epochs), chosen to reach
# >= 99.0% test accuracy on full MNIST.
DEFAULT_EPOCHS = 12
DEFAULT_BATCH = 128
DEFAULT_LR = {"sgd": 0.05, "momentum": 0.05, "adam": 1e-3, "adamw": 1e-3}


def _shape(text: str) -> tuple[int, int, int]:
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"got {text!r}, needed C,H,W (three positive ints, e.g. 1,28,28)")
    return shape


def _positive(kind):
    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            v = None
        if v is None or not v > 0:
            raise argparse.ArgumentTypeError(f"got {text!r}, needed a positive {kind.__name__}")
        return v
    parse.__name__ = kind.__name__
    return parse


def _non_negative_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        v = -1
    if v < 0:
        raise argparse.ArgumentTypeError(f"got {text!r}, needed an int >= 0")
    return v


def _non_negative_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not v >= 0:
        raise argparse.ArgumentTypeError(f"got {text!r}, needed a number >= 0")
    return v


class MnistImages:
    """MNIST uint8 (N, 28, 28) seen as (N, C, H, W) uint8 for a model's input shape, made per batch:
    zero-padded (centered) when H, W exceed 28 by at most 8 (LeNet's 32x32), else resized by
    nearest neighbour; the grey channel is replicated for 3-channel models."""

    def __init__(self, images: np.ndarray, shape: tuple[int, int, int]):
        c, h, w = shape
        if c not in (1, 3) or h < 28 or w < 28:
            raise ValueError(f"MNIST (1x28x28) cannot feed a model with input shape {c}x{h}x{w}: needed "
                             f"1 or 3 channels and at least 28x28")
        self.images, self.ndim = images, 4
        self.shape, self.dtype = (len(images), c, h, w), np.dtype(np.uint8)
        self.pad = h - 28 <= 8 and w - 28 <= 8
        self.top, self.left = (h - 28) // 2, (w - 28) // 2
        self.rows, self.cols = (np.arange(h) * 28) // h, (np.arange(w) * 28) // w

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, index):
        src = self.images[index]
        out = np.zeros((len(src), *self.shape[1:]), dtype=np.uint8)
        if self.pad:
            out[:, :, self.top:self.top + 28, self.left:self.left + 28] = src[:, None]
        else:
            out[:] = src[:, self.rows][:, :, self.cols][:, None]
        return out


def _fit_input(images: np.ndarray, shape: tuple):
    return images if tuple(shape) == (1, 28, 28) else MnistImages(images, tuple(shape))


def _write_json_atomic(path: str, obj) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _make_model(name: str, input_shape, num_classes: int | None = 10):
    from . import models
    kwargs = {} if num_classes is None else {"num_classes": num_classes}
    if input_shape is not None:
        kwargs["input_shape"] = tuple(input_shape)
    model = models.get(name, **kwargs)
    if not model.built:
        model.build()
    return model


def _make_optimizer(name: str, lr: float, schedule: str, epochs: int, weight_decay: float | None):
    from . import optim
    schedule = {"none": None, "cosine": optim.CosineAnnealing(epochs),
                "step": optim.StepLR(max(1, epochs // 3), 0.1), "onecycle": optim.OneCycle()}[schedule]
    if weight_decay is None:  # default: a little L2 for SGD (LeNet-5 overfits MNIST without it)
        weight_decay = 5e-4 if name in ("sgd", "momentum") else None
    wd = {} if weight_decay is None else {"weight_decay": weight_decay}
    if name == "sgd":
        return optim.SGD(lr, schedule=schedule, **wd)
    if name == "momentum":
        return optim.SGD(lr, momentum=0.9, schedule=schedule, **wd)
    if name == "adam":
        return optim.Adam(lr, schedule=schedule, **wd)
    return optim.AdamW(lr, schedule=schedule, **wd)


def _train(args, parser) -> int:
    import fastcnn
    from .callbacks import Callback, ModelCheckpoint
    from .datasets import mnist
    from .plot import plot_history
    from .saving import load_model

    if args.device == "cuda" and not fastcnn.cuda.is_available():
        parser.error(f"argument --device: CUDA is not available: {fastcnn.cuda.why_unavailable()}; "
                     f"use --device cpu")
    if args.threads:
        fastcnn.set_num_threads(args.threads)
    fastcnn.seed(args.seed)

    if args.resume:
        try:
            model = load_model(args.resume)
        except (OSError, ValueError) as e:
            parser.error(f"argument --resume: {e}")
        if not model.compiled:
            parser.error(f"argument --resume: '{args.resume}' holds no optimizer state to resume from")
        print(f"resuming {args.resume} after epoch {model.epochs_done} "
              f"(optimizer and learning rate from the checkpoint)")
    else:
        model = _make_model(args.model, args.input_shape)
        lr = args.lr if args.lr is not None else DEFAULT_LR[args.optimizer]
        model.compile(_make_optimizer(args.optimizer, lr, args.schedule, args.epochs, args.weight_decay),
                      loss="cross_entropy",
                      metrics=["accuracy"])
    input_shape = tuple(model.input_shapes[0])
    model.to(args.device)  # on cuda the data set is uploaded once by fit; checkpoints are saved from it

    try:
        (x_train, y_train), (x_test, y_test) = mnist.load_data(args.data)
    except (FileNotFoundError, ValueError) as e:  # --data without the files, or damaged files
        parser.error(str(e))
    if args.limit:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
        x_test, y_test = x_test[:max(1, args.limit // 5)], y_test[:max(1, args.limit // 5)]
    try:
        x_train, x_test = _fit_input(x_train, input_shape), _fit_input(x_test, input_shape)
    except ValueError as e:
        parser.error(f"argument MODEL: {e}")

    os.makedirs(args.out, exist_ok=True)
    checkpoint = os.path.join(args.out, "model")

    class WriteHistory(Callback):
        def on_epoch_end(self, epoch, logs=None):
            _write_json_atomic(os.path.join(args.out, "history.json"), model.training_log)
            plot_history(model.training_log, os.path.join(args.out, "history.png"),
                         title=f"{args.model} on MNIST")

    print(f"{args.model} on {args.device}: input {'x'.join(map(str, input_shape))}, "
          f"{model.count_params():,} parameters, {len(y_train)} training / {len(y_test)} test images, {model.optimizer!r}, batch {args.batch_size}")
    start = model.epochs_done
    if start >= args.epochs:
        print(f"nothing to do: the checkpoint has {start} epochs done, --epochs is {args.epochs}")
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, initial_epoch=start,
              validation_data=(x_test, y_test), callbacks=[ModelCheckpoint(checkpoint), WriteHistory()],
              verbose=0 if args.quiet else 1)
    if model.training_log:
        last = model.training_log[-1]
        print(f"test accuracy {last.get('val_accuracy', float('nan')):.4f} after epoch {last['epoch']}; "
              f"wrote {args.out}/history.json, history.png, model")
    return 0


def _summary(args, parser) -> int:
    model = _make_model(args.model, args.input_shape, args.num_classes)
    model.summary()
    return 0


def _bench(args, parser) -> int:
    import fastcnn
    from . import bench

    if args.model is None:
        for flag, value in (("--batch-size", args.batch_size), ("--input-shape", args.input_shape)):
            if value is not None:
                parser.error(f"argument {flag}: only with MODEL (a network benchmark, e.g. fastcnn bench lenet5 "
                             f"{flag} ...)")
    if args.json and not os.path.isdir(os.path.dirname(os.path.abspath(args.json))):
        parser.error(f"argument --json: the directory of {args.json!r} does not exist")
    if args.threads:
        fastcnn.set_num_threads(args.threads)

    def log(message):
        print(message, file=sys.stderr, flush=True)

    if args.model is None:
        result = bench.run_kernels(args.repeat, quick=args.quick, use_torch=not args.no_torch)
        print(bench.format_kernels(result))
    else:
        try:
            model = _make_model(args.model, args.input_shape)
        except ValueError as e:  # an input shape the network cannot take
            parser.error(f"argument --input-shape: {e}" if args.input_shape else str(e))
        batch = args.batch_size or (8 if args.quick else DEFAULT_BATCH)
        result = bench.run_model(model, args.model, args.repeat, batch, quick=args.quick, log=log)
        print(bench.format_model(result))
    if args.json:
        try:
            _write_json_atomic(args.json, result)
        except OSError as e:
            print(f"fastcnn bench: could not write --json {args.json}: {e}", file=sys.stderr)
            return 1
    return 0


def _info(args, parser) -> int:
    import fastcnn
    for k, v in fastcnn.info().items():
        print(f"{k}: {v}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import models
    parser = argparse.ArgumentParser(prog="fastcnn", description="CNNs on hand-written C++ kernels.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{train,summary,bench,info}")

    t = sub.add_parser("train", help="train a network on MNIST",
                       description="Train MODEL on MNIST, using the test set for validation after every epoch; "
                                   "writes OUT/history.json, OUT/history.png and the checkpoint OUT/model.")
    t.add_argument("model", metavar="MODEL", choices=models.NAMES, help="one of: " + ", ".join(models.NAMES))
    t.add_argument("--epochs", type=_positive(int), default=DEFAULT_EPOCHS,
                   help=f"train up to this epoch (default {DEFAULT_EPOCHS})")
    t.add_argument("--batch-size", type=_positive(int), default=DEFAULT_BATCH, help=f"default {DEFAULT_BATCH}")
    t.add_argument("--optimizer", choices=("sgd", "momentum", "adam", "adamw"), default="momentum",
                   help="momentum is SGD with momentum 0.9 (default)")
    t.add_argument("--lr", type=_positive(float), default=None,
                   help="learning rate (default 0.05 for sgd/momentum, 0.001 for adam/adamw)")
    t.add_argument("--weight-decay", type=_non_negative_float, default=None, metavar="WD",
                   help="L2 weight decay (decoupled for adamw; default 5e-4 for sgd/momentum, 0 for adam, "
                        "0.01 for adamw)")
    t.add_argument("--schedule", choices=("cosine", "step", "onecycle", "none"), default="cosine",
                   help="learning-rate schedule over the epochs: cosine annealing to 0 (default), step (x0.1 "
                        "every third of the run), one-cycle (per step), none")
    t.add_argument("--data", metavar="DIR", default=None,
                   help="directory with the four MNIST IDX files (default $FASTCNN_DATA/mnist, the cache, "
                        "a download, or the bundled sample)")
    t.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="where to train (default cpu); cuda needs a CUDA build and an NVIDIA GPU")
    t.add_argument("--seed", type=_non_negative_int, default=0, help="random seed (default 0)")
    t.add_argument("--out", metavar="DIR", default=None, help="output directory (default runs/MODEL)")
    t.add_argument("--resume", metavar="FILE", default=None, help="continue from a checkpoint written by train")
    t.add_argument("--input-shape", type=_shape, default=None, metavar="C,H,W",
                   help="model input shape (default: the model's own; MNIST is padded/resized to fit)")
    t.add_argument("--limit", type=_positive(int), default=None, metavar="N",
                   help="use only the first N training and N/5 test images (quick runs)")
    t.add_argument("--threads", type=_positive(int), default=None, help="CPU threads for the kernels")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(run=_train)

    s = sub.add_parser("summary", help="print a network's layers, output shapes and parameter counts")
    s.add_argument("model", metavar="MODEL", choices=models.NAMES, help="one of: " + ", ".join(models.NAMES))
    s.add_argument("--input-shape", type=_shape, default=None, metavar="C,H,W")
    s.add_argument("--num-classes", type=_positive(int), default=None, help="default: the model's own")
    s.set_defaults(run=_summary)

    b = sub.add_parser("bench", help="time this machine's kernels, or a network's training and inference",
                       description="Without MODEL: time conv2d (forward, forward+backward), max_pool2d and relu on "
                                   "a few representative shapes and print ms and GFLOP/s or GB/s, with PyTorch's "
                                   "time for the same call when it is installed. With MODEL: time training steps "
                                   "(forward + backward + SGD update) and inference on random data of the "
                                   "network's input shape. Each figure is a median after warm-up runs.")
    b.add_argument("model", metavar="MODEL", nargs="?", choices=models.NAMES, default=None,
                   help="a network to time instead of the kernels, one of: " + ", ".join(models.NAMES) +
                        " (the 224x224 ones take seconds to minutes per step on a few cores: try "
                        "--input-shape 1,28,28 --batch-size 32)")
    b.add_argument("--repeat", type=_positive(int), default=5,
                   help="timed runs (kernels) or steps (MODEL) per figure, reported as the median (default 5)")
    b.add_argument("--threads", type=_positive(int), default=None,
                   help="CPU threads for the kernels (and PyTorch's); default: fastcnn's current count")
    b.add_argument("--json", metavar="FILE", default=None, help="also write the results to FILE as JSON")
    b.add_argument("--no-torch", action="store_true", help="do not time PyTorch even if it is installed")
    b.add_argument("--batch-size", type=_positive(int), default=None,
                   help=f"with MODEL: the batch size (default {DEFAULT_BATCH})")
    b.add_argument("--input-shape", type=_shape, default=None, metavar="C,H,W",
                   help="with MODEL: its input shape (default: the model's own, 1,28,28 for lenet5)")
    b.add_argument("--quick", action="store_true", help=argparse.SUPPRESS)  # tiny shapes: tests of the command
    b.set_defaults(run=_bench)

    i = sub.add_parser("info", help="print version, compiler, OpenMP, ISA and CUDA facts")
    i.set_defaults(run=_info)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "out", "") is None:
        args.out = os.path.join("runs", args.model)
    return args.run(args, parser)


if __name__ == "__main__":
    sys.exit(main())
