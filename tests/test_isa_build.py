"""The per-ISA objects of the build that made the module under test: AVX2 / AVX-512 instructions only
inside their ISA's kernels, ZMM arithmetic in the avx512 GEMM microkernel (tools/check_isa.py).
AVX-512 code cannot run on a CPU without it; this is what checks it there. Needs the build's
objects: development builds (tools/devbuild.sh, also .ci/run's sanitizer build) keep them; a pip
build directory is gone after the install, and the test skips."""
import os
import shutil
import subprocess
import sys

import pytest

import fastcnn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = fastcnn._C.build_info()["build_dir"]
MODULE = fastcnn._C.__file__


@pytest.mark.skipif(not os.path.isdir(os.path.join(BUILD, "CMakeFiles")) or shutil.which("objdump") is None,
                    reason="needs the objects of the build that made the module (tools/devbuild.sh) and objdump")
@pytest.mark.skipif(fastcnn.info()["built_isas"] != ["baseline", "avx2", "avx512"], reason="x86-64 builds only")
def test_isa_instructions_stay_in_their_kernels():
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "check_isa.py"), BUILD, MODULE],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
