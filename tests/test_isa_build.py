"""The per-ISA objects of a development build (tools/devbuild.sh): AVX2 / AVX-512 instructions only
inside their ISA's kernels, ZMM arithmetic in the avx512 GEMM microkernel (tools/check_isa.py).
AVX-512 code cannot run on a CPU without it; this is what checks it there."""
import os
import shutil
import subprocess
import sys

import pytest

import fastcnn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build", "dev")
MODULE = fastcnn._C.__file__


@pytest.mark.skipif(not os.path.isdir(os.path.join(BUILD, "CMakeFiles")) or shutil.which("objdump") is None,
                    reason="needs the development build's objects (tools/devbuild.sh) and objdump")
@pytest.mark.skipif(fastcnn.info()["built_isas"] != ["baseline", "avx2", "avx512"], reason="x86-64 builds only")
def test_isa_instructions_stay_in_their_kernels():
    if os.path.dirname(MODULE) != os.path.join(ROOT, "python", "fastcnn"):
        pytest.skip("the module under test is not the development build's")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "check_isa.py"), BUILD, MODULE],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
