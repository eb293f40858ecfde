"""Comparison and finite-difference helpers for the tests."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

import fastcnn

__all__ = ["rel_err", "assert_close", "numeric_grad", "f64", "with_threads", "threads_1_and_2", "run_on_isa"]


def f64(a):
    return None if a is None else np.asarray(a, dtype=np.float64)


def rel_err(got, want) -> float:
    """||got - want|| / ||want|| (absolute when want is all zero)."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    if got.size == 0:
        return 0.0
    num = np.linalg.norm((got - want).ravel())
    den = np.linalg.norm(want.ravel())
    return float(num / den) if den > 0 else float(num)


def assert_close(got, want, tol: float = 1e-5, what: str = "", scale=None) -> None:
    """||got - want|| <= tol * ||want||; with `scale` (the same sums over absolute values, e.g. the
    op applied to |x| and |w|), relative to ||scale|| instead: the measure for sums whose terms
    cancel, where float32 rounding is relative to the terms, not to the small result."""
    if scale is None:
        e = rel_err(got, want)
    else:
        diff = np.asarray(got, np.float64) - np.asarray(want, np.float64)
        e = float(np.linalg.norm(diff.ravel()) / max(np.linalg.norm(np.ravel(scale)), 1e-300)) if diff.size else 0.0
    assert e <= tol, f"{what} relative error {e:.3g} > {tol:g}"


def numeric_grad(f, x: np.ndarray, dy: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d<f(x), dy>/dx by central differences, for a float64 function f (x is perturbed in place)."""
    x = np.asarray(x, dtype=np.float64)
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        fp = np.sum(f(x) * dy)
        flat[i] = old - eps
        fm = np.sum(f(x) * dy)
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * eps)
    return g


def with_threads(n: int, f):
    """f() run with n kernel threads (the previous count restored afterwards)."""
    old = fastcnn.get_num_threads()
    try:
        fastcnn.set_num_threads(n)
        return f()
    finally:
        fastcnn.set_num_threads(old)


def threads_1_and_2(f):
    """(f() with 1 thread, f() with 2 threads): results must be bit-identical."""
    return with_threads(1, f), with_threads(2, f)


def run_on_isa(isa: str, module: str, check: str, timeout: int = 300) -> None:
    """Runs `module.check()` (a test module's function that asserts) in a fresh process with
    FASTCNN_ISA=isa (the ISA is chosen once per process) and asserts it passed on that ISA; skips
    the test when this CPU cannot run isa."""
    if isa not in fastcnn.info()["cpu_isas"]:
        import pytest
        pytest.skip(f"this CPU cannot run {isa}")
    tests_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(fastcnn.__file__)))
    env = dict(os.environ, FASTCNN_ISA=isa,
               PYTHONPATH=os.pathsep.join([tests_dir, package_dir, os.environ.get("PYTHONPATH", "")]))
    code = f"import fastcnn, {module}; {module}.{check}(); print(fastcnn.info()['isa'])"
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[-1] == isa
