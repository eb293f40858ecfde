#!/usr/bin/env bash
# Development build: compiles _C into python/fastcnn/ so that `PYTHONPATH=python pytest` uses it.
#   tools/devbuild.sh              Release build in build/dev
#   tools/devbuild.sh sanitize     ASan + UBSan build in build/sanitize
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-dev}
extra=()
[ "$kind" = sanitize ] && extra+=(-DFASTCNN_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [ ! -f "build/$kind/build.ninja" ]; then
  cmake -S . -B "build/$kind" -G Ninja -DFASTCNN_INPLACE=ON -DFASTCNN_CUDA=OFF \
        -DPython_EXECUTABLE="$(command -v python3)" "${extra[@]}" > /dev/null
fi
# dev and sanitize builds share the output path: always relink the one asked for
rm -f python/fastcnn/_C.*.so
cmake --build "build/$kind" -j "${JOBS:-2}"
