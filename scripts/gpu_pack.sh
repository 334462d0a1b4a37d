#!/usr/bin/env bash
# Prepares a run on the lent GPU machine, which has no compiler toolchain of
# ours (no LLVM, protobuf or OpenBLAS): builds dlc and dlrun here, compiles the
# models for cuda (and cpu, for comparison) here, and packs dlrun, the shared
# libraries it needs beyond glibc, the executables and Fashion-MNIST into
# .gpu/pack.tar.xz (about 40 MiB, under the device tool's 64 MiB).
# Then: device run with carry [".gpu"] and command `bash scripts/gpu_check.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${DLC_BUILD:-build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
make -C "$BUILD" -j"$(nproc)" dlc dlrun >/dev/null

STAGE=$(mktemp -d /tmp/dlc-gpu-pack.XXXXXX)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/bin" "$STAGE/lib" "$STAGE/models" "$STAGE/data"
cp "$BUILD/dlrun" "$STAGE/bin/"
# Every library dlrun loads except glibc's own and the loader.
ldd "$BUILD/dlrun" | awk '/=> \//{print $3}' | grep -vE '/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*)\.so' |
  while read -r lib; do cp -L "$lib" "$STAGE/lib/"; done
for target in cuda cpu; do
  for b in 32 128 1024; do
    "$BUILD/dlc" compile models/mlp_mnist.pbtxt --target "$target" --batch "$b" \
      -o "$STAGE/models/mlp_${target}_b$b.dlc" >/dev/null
  done
  for m in softmax_regression logistic_regression linear_regression; do
    "$BUILD/dlc" compile "models/$m.pbtxt" --target "$target" --batch 64 -o "$STAGE/models/${m}_$target.dlc" >/dev/null
  done
done
cp /usr/share/datasets/fashion-mnist/*.gz "$STAGE/data/"
mkdir -p .gpu
tar -C "$STAGE" -cJf .gpu/pack.tar.xz .
ls -la .gpu/pack.tar.xz
