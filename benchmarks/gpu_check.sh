#!/usr/bin/env bash
# The GPU check of issue 5, for a machine with an NVIDIA GPU, Python, PyTorch (cuDNN), CMake, ninja,
# pybind11 and scikit-build-core, and no network: builds and installs fastcnn with its CUDA module
# (sm_90 only, to save build time), prints the machine and fastcnn's CUDA status, runs the GPU tests,
# then benchmarks against PyTorch (benchmarks/bench_gpu.py). Everything within 8 minutes; the
# benchmark table comes last.
#   benchmarks/gpu_check.sh              # all of it
#   benchmarks/gpu_check.sh --quick      # fewer conv cases (arguments go to bench_gpu.py)
# Logs and bench_gpu.json go to $OUT when it is set, else build/gpu_check.
# Each step reports and the next still runs; a machine without a usable GPU stops after the import check.
set -uo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
total=${GPU_CHECK_BUDGET:-480}  # seconds for the whole check
out=${OUT:-build/gpu_check}
mkdir -p "$out"
command -v nvcc > /dev/null || export PATH="$PATH:/usr/local/cuda/bin"
left() { echo $((total - (SECONDS - start))); }
py=${PYTHON:-$(command -v python || command -v python3)}

echo "== machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | head -5
echo "nvcc: $(nvcc --version 2>&1 | tail -1)"
"$py" -c 'import sys, torch; print("python", sys.version.split()[0], "| torch", torch.__version__, "| cuda", torch.version.cuda, "| cudnn", torch.backends.cudnn.version(), "|", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "torch sees no GPU")' 2>&1

echo "== build: pip install --no-build-isolation --no-deps . (FASTCNN_CUDA=ON, sm_90)"
t0=$SECONDS
PIP_BREAK_SYSTEM_PACKAGES=1 CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)} "$py" -m pip install --no-build-isolation --no-deps \
  --config-settings=cmake.define.FASTCNN_CUDA=ON --config-settings=cmake.define.CMAKE_CUDA_ARCHITECTURES=90 \
  -v . > "$out/build.log" 2>&1
rc=$?
echo "build: exit status $rc after $((SECONDS - t0)) s (log: $out/build.log)"
if [ $rc -ne 0 ]; then
  grep -E "error|Error|FAILED" "$out/build.log" | head -40
  tail -20 "$out/build.log"
  exit 1
fi

echo "== import and status (from outside the source tree)"
(cd / && "$py" - <<'PY'
import sys
import fastcnn
assert "fastcnn._C_cuda" not in sys.modules, "'import fastcnn' imported the CUDA module"
from fastcnn import _C_cuda
print("build:", _C_cuda.build_info())
print("status:", _C_cuda.status())
try:
    import fastcnn.cuda
    print("fastcnn.cuda.is_available():", fastcnn.cuda.is_available())
except Exception as e:
    print("fastcnn.cuda:", type(e).__name__, e)
PY
) 2>&1
if ! (cd / && "$py" -c 'from fastcnn import _C_cuda; import sys; sys.exit(0 if _C_cuda.status()[0] else 1)'); then
  echo "no usable GPU for fastcnn (reason above): build and import checked, nothing to run on a device"
  exit 0
fi

echo "== CPU kernels on AVX-512, when this host has it (the development machine cannot run them)"
# The GPU tests compare with the CPU kernels: if the avx512 path fails here, they use avx2 instead.
if (cd / && "$py" -c 'import fastcnn, sys; sys.exit(0 if "avx512" in fastcnn.info()["cpu_isas"] else 1)') \
    && "$py" -c 'import pytest, hypothesis' 2> /dev/null; then
  FASTCNN_ISA=avx512 timeout 120 "$py" -m pytest -q -p no:cacheprovider -x --tb=short \
    tests/test_gemm.py tests/test_conv.py tests/test_winograd.py tests/test_pool.py tests/test_activation.py \
    > "$out/avx512_tests.log" 2>&1
  rc=$?
  tail -15 "$out/avx512_tests.log"
  if [ $rc -ne 0 ]; then
    echo "avx512 CPU kernels FAILED (exit status $rc): the GPU tests below compare with FASTCNN_ISA=avx2"
    export FASTCNN_ISA=avx2
  fi
else
  echo "no AVX-512 on this host (or no pytest/hypothesis): skipped"
fi

echo "== GPU tests (tests/test_cuda*.py)"
t0=$SECONDS
if ! "$py" -c 'import pytest' 2> /dev/null; then
  echo "pytest is not installed here: GPU tests not run"
elif "$py" -c 'import hypothesis' 2> /dev/null; then
  timeout 150 "$py" -m pytest -q -p no:cacheprovider --tb=short --durations=5 tests/test_cuda*.py 2>&1 | tail -60
else
  echo "(hypothesis is not installed: conftest skipped; test files that need hypothesis will error)"
  PYTHONPATH=tests timeout 150 "$py" -m pytest -q -p no:cacheprovider --noconftest --tb=short tests/test_cuda*.py 2>&1 | tail -60
fi
echo "tests: $((SECONDS - t0)) s"

echo "== benchmarks ($(left) s left of $total)"
"$py" benchmarks/bench_gpu.py --budget "$(( $(left) - 10 ))" --json "$out/bench_gpu.json" "$@"
echo "gpu_check: $((SECONDS - start)) s in all"
