"""The fastcnn command: argument errors, train (short run, resume), summary, info."""
import json
import os

import numpy as np
import pytest

from fastcnn import cli


def run(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def argparse_error(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as e:
        cli.main(list(argv))
    assert e.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["train", "lenet6"], "argument MODEL: invalid choice: 'lenet6'"),
    (["train", "lenet5", "--bogus"], "unrecognized arguments: --bogus"),
    (["train", "lenet5", "--optimizer", "adagrad"], "argument --optimizer: invalid choice"),
    (["train", "lenet5", "--epochs", "0"], "argument --epochs"),
    (["train", "lenet5", "--lr", "fast"], "argument --lr"),
    (["train", "lenet5", "--device", "tpu"], "argument --device: invalid choice"),
    (["train", "lenet5", "--schedule", "linear"], "argument --schedule: invalid choice"),
    (["train", "lenet5", "--weight-decay", "-1"], "argument --weight-decay: got '-1', needed a number >= 0"),
    (["summary", "lenet5", "--input-shape", "28,28"], "argument --input-shape: got '28,28', needed C,H,W"),
    (["summary", "vgg17"], "invalid choice: 'vgg17'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    ([], "required"),
])
def test_argument_errors(capsys, argv, message):
    assert message in argparse_error(capsys, *argv)


def test_cuda_device_is_a_clear_error(capsys, tmp_path):
    import fastcnn
    if fastcnn.info().get("cuda_available"):
        pytest.skip("CUDA available here")
    assert "--device: CUDA" in argparse_error(capsys, "train", "lenet5", "--device", "cuda", "--out", str(tmp_path))


def test_train_writes_files_and_resumes(capsys, tmp_path, data_dir):
    out = tmp_path / "run"
    code, stdout, _ = run(capsys, "train", "lenet5", "--epochs", "1", "--limit", "500", "--batch-size", "50",
                          "--data", str(data_dir), "--out", str(out), "--quiet", "--weight-decay", "5e-4")
    assert code == 0 and "test accuracy" in stdout
    history = json.loads((out / "history.json").read_text())
    assert len(history) == 1
    assert set(history[0]) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"}
    assert (out / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "model").is_file()

    code, stdout, _ = run(capsys, "train", "lenet5", "--epochs", "2", "--limit", "500", "--batch-size", "50",
                          "--data", str(data_dir), "--out", str(out), "--resume", str(out / "model"), "--quiet")
    assert code == 0 and "resuming" in stdout
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]


def test_train_pads_for_lenet5_classic(capsys, tmp_path, data_dir):
    code, stdout, _ = run(capsys, "train", "lenet5_classic", "--epochs", "1", "--limit", "100", "--data",
                          str(data_dir), "--out", str(tmp_path), "--quiet", "--optimizer", "adam")
    assert code == 0 and "input 1x32x32" in stdout


def test_mnist_images_pad_and_resize():
    x = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    padded = cli.MnistImages(x, (1, 32, 32))[:]
    assert padded.shape == (2, 1, 32, 32) and (padded[:, 0, 2:30, 2:30] == x).all() and padded[:, :, :2].sum() == 0
    big = cli.MnistImages(x, (3, 56, 56))[np.array([1])]
    assert big.shape == (1, 3, 56, 56) and (big[0, 2, ::2, ::2] == x[1]).all() and (big[0, 0] == big[0, 1]).all()
    with pytest.raises(ValueError, match="2x28x28"):
        cli.MnistImages(x, (2, 28, 28))


def test_resume_from_damaged_file(capsys, tmp_path, data_dir):
    (tmp_path / "junk").write_bytes(b"junk")
    err = argparse_error(capsys, "train", "lenet5", "--resume", str(tmp_path / "junk"), "--data", str(data_dir),
                         "--out", str(tmp_path))
    assert "argument --resume" in err and "junk" in err


def test_summary_and_info(capsys):
    code, stdout, _ = run(capsys, "summary", "lenet5")
    assert code == 0 and ("61,706" in stdout or "61706" in stdout)
    code, stdout, _ = run(capsys, "info")
    assert code == 0 and "version: " in stdout



def test_train_with_a_data_dir_without_mnist_is_a_usage_error(capsys, tmp_path):
    assert "does not hold the four MNIST files" in argparse_error(capsys, "train", "lenet5", "--data", str(tmp_path))


# -- fastcnn bench: the command runs and reports; no assertions on the times themselves

def test_bench_kernels_prints_the_table(capsys):
    import fastcnn
    before = fastcnn.get_num_threads()
    try:
        code, stdout, _ = run(capsys, "bench", "--quick", "--repeat", "1", "--no-torch", "--threads", "1")
    finally:
        fastcnn.set_num_threads(before)
    assert code == 0
    assert "ISA " in stdout and "1 thread" in stdout
    for header in ("case", "pass", "shape", "ms", "rate"):
        assert header in stdout
    for case in ("lenet_c1", "lenet_c2", "conv_3x3", "max_pool2d", "relu"):
        assert case in stdout
    assert "GFLOP/s" in stdout and "GB/s" in stdout and "torch ms" not in stdout


def test_bench_kernels_json(capsys, tmp_path):
    path = tmp_path / "bench.json"
    code, _, _ = run(capsys, "bench", "--quick", "--repeat", "1", "--no-torch", "--json", str(path))
    assert code == 0
    result = json.loads(path.read_text())
    assert {"version", "isa", "threads", "repeat", "warmup", "torch", "rows"} <= set(result)
    assert result["repeat"] == 1 and result["torch"] is None
    cases = {(r["case"], r["pass"]) for r in result["rows"]}
    assert {("lenet_c1", "fwd"), ("lenet_c1", "fwd+bwd"), ("conv_3x3", "fwd+bwd"), ("relu", "fwd")} <= cases
    for r in result["rows"]:
        assert {"case", "pass", "shape", "ms", "rate", "unit"} <= set(r) and r["ms"] > 0 and r["rate"] > 0
        assert r["unit"] == ("GFLOP/s" if r["case"].startswith(("lenet", "conv")) else "GB/s")


def test_bench_kernels_with_torch(capsys):
    pytest.importorskip("torch")
    code, stdout, _ = run(capsys, "bench", "--quick", "--repeat", "1")
    assert code == 0 and "torch ms" in stdout and "vs torch" in stdout


def test_bench_model(capsys, tmp_path):
    path = tmp_path / "lenet5.json"
    code, stdout, _ = run(capsys, "bench", "lenet5", "--quick", "--repeat", "1", "--json", str(path))
    assert code == 0 and "training (per step)" in stdout and "inference (per batch)" in stdout
    assert "images/s" in stdout and "61,706 parameters" in stdout
    result = json.loads(path.read_text())
    assert result["model"] == "lenet5" and result["input_shape"] == [1, 28, 28]
    assert {"train_step_ms", "train_images_per_s", "inference_batch_ms", "inference_images_per_s"} <= set(result)


@pytest.mark.parametrize("argv, message", [
    (["bench", "lenet6"], "argument MODEL: invalid choice: 'lenet6'"),
    (["bench", "--repeat", "0"], "argument --repeat: got '0', needed a positive int"),
    (["bench", "--repeat", "many"], "argument --repeat"),
    (["bench", "--threads", "0"], "argument --threads"),
    (["bench", "--batch-size", "8"], "argument --batch-size: only with MODEL"),
    (["bench", "lenet5", "--input-shape", "1,4,4"], "argument --input-shape"),
    (["bench", "--json", "/nonexistent-dir/x.json"], "argument --json"),
])
def test_bench_argument_errors(capsys, argv, message):
    assert message in argparse_error(capsys, *argv)
