"""The CUDA bindings keep _C's argument names and order (checked on the sources, so no GPU needed).

For every entry point csrc/cuda/bindings/<fam>.cpp shares with csrc/bindings/<fam>.cpp, the py::arg
names must be _C's in the same order; the CUDA one may only append optional arguments (with a default),
such as cross_entropy_forward's `loss` output.
"""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CUDA_BINDINGS = sorted((ROOT / "csrc/cuda/bindings").glob("*.cpp"))
PAIRS = [(ROOT / "csrc/bindings" / p.name, p) for p in CUDA_BINDINGS if (ROOT / "csrc/bindings" / p.name).exists()]


def entry_points(path):
    """{name: [(arg, has_default), ...]} of every m.def in a binding source."""
    src = path.read_text()
    starts = list(re.finditer(r'm\.def\(\s*"(\w+)"', src))
    out = {}
    for i, m in enumerate(starts):
        body = src[m.start():starts[i + 1].start() if i + 1 < len(starts) else len(src)]
        out[m.group(1)] = [(a, bool(d)) for a, d in re.findall(r'py::arg\("(\w+)"\)(\s*=)?', body)]
    return out


def test_the_conv_and_linear_bindings_are_found():
    names = {p.name for _, p in PAIRS}
    assert {"conv.cpp", "linear.cpp"} <= names
    assert "conv2d_forward" in entry_points(ROOT / "csrc/cuda/bindings/conv.cpp")


@pytest.mark.parametrize("cpu, cuda", PAIRS, ids=[p.name for _, p in PAIRS])
def test_same_argument_names_and_order(cpu, cuda):
    cpu_defs, cuda_defs = entry_points(cpu), entry_points(cuda)
    for name in sorted(set(cpu_defs) & set(cuda_defs)):
        want, got = cpu_defs[name], cuda_defs[name]
        assert [a for a, _ in got[:len(want)]] == [a for a, _ in want], (name, want, got)
        assert all(d for _, d in got[len(want):]), f"{name}: CUDA-only arguments need defaults: {got}"
