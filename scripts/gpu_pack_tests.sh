#!/usr/bin/env bash
# Packs the GPU test suite for the lent GPU machine, which lacks our
# toolchain: cuda_executor_test (it compiles models in-process, so it needs
# libLLVM and its libraries) with every shared library it loads beyond glibc
# and NVRTC (the machine's CUDA 13 toolkit has NVRTC), into
# .gpu-tests/pack.tar.xz (about 50 MiB, under the device tool's 64 MiB).
# Then: device run with carry [".gpu-tests"] and `bash scripts/gpu_run_tests.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${DLC_BUILD:-build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
make -C "$BUILD" -j"$(nproc)" cuda_executor_test >/dev/null

STAGE=$(mktemp -d /tmp/dlc-gpu-tests.XXXXXX)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/bin" "$STAGE/lib"
cp "$BUILD/cuda_executor_test" "$STAGE/bin/"
strip "$STAGE/bin/cuda_executor_test"
ldd "$BUILD/cuda_executor_test" | awk '/=> \//{print $3}' |
  grep -vE '/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*|libnvrtc[^/]*)\.so' |
  while read -r lib; do cp -L "$lib" "$STAGE/lib/"; done
mkdir -p .gpu-tests
tar -C "$STAGE" -cf - . | xz -T"$(nproc)" -6 >.gpu-tests/pack.tar.xz
ls -la .gpu-tests/pack.tar.xz
