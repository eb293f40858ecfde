#!/usr/bin/env bash
# Development build: compiles the modules into python/fastcnn/ so that `PYTHONPATH=python pytest` uses them.
#   tools/devbuild.sh              Release build of _C in build/dev
#   tools/devbuild.sh sanitize     ASan + UBSan build of _C in build/sanitize (baseline kernels with
#                                  the avx512 tiling: FASTCNN_BASELINE_LANES16, see .ci/run)
#   tools/devbuild.sh cuda         _C and the CUDA module _C_cuda in build/cuda (sm_90 only, for speed)
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-dev}
extra=(-DFASTCNN_CUDA=OFF)
case "$kind" in
  dev) ;;
  sanitize) extra+=(-DFASTCNN_SANITIZE=ON -DFASTCNN_BASELINE_LANES16=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  cuda) extra=(-DFASTCNN_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90-real) ;;
  *) echo "usage: $0 [dev|sanitize|cuda]" >&2; exit 2 ;;
esac
if [ ! -f "build/$kind/build.ninja" ]; then
  cmake -S . -B "build/$kind" -G Ninja -DFASTCNN_INPLACE=ON \
        -DPython_EXECUTABLE="$(command -v python3)" "${extra[@]}" > /dev/null
fi
# the builds share the output path: always relink the one asked for
rm -f python/fastcnn/_C.*.so
[ "$kind" = cuda ] && rm -f python/fastcnn/_C_cuda.*.so
cmake --build "build/$kind" -j "${JOBS:-2}"
