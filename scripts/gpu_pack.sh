#!/usr/bin/env bash
# Prepares a run on the lent GPU machine, which has no toolchain of ours (no
# LLVM, protobuf or OpenBLAS): builds dlc and dlrun here, compiles every
# model in models/ for cuda (the MLP also for cpu, and at the benchmark's
# batch sizes), makes small CSV data sets for the 2- and 3-feature models, and
# packs dlrun, the shared libraries it needs beyond glibc, the executables and
# Fashion-MNIST into .gpu/pack.tar.xz (about 40 MiB, under the device tool's
# 64 MiB). Then: device run with carry [".gpu"] and `bash scripts/gpu_check.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${DLC_BUILD:-build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
make -C "$BUILD" -j"$(nproc)" dlc dlrun >/dev/null

STAGE=$(mktemp -d /tmp/dlc-gpu-pack.XXXXXX)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/bin" "$STAGE/lib" "$STAGE/models" "$STAGE/data" "$STAGE/csv"
cp "$BUILD/dlrun" "$STAGE/bin/"
strip "$STAGE/bin/dlrun"
# Every library dlrun loads except glibc's own and the loader.
ldd "$BUILD/dlrun" | awk '/=> \//{print $3}' | grep -vE '/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*)\.so' |
  while read -r lib; do cp -L "$lib" "$STAGE/lib/"; done
for b in 1 32 128 1024 10000; do
  "$BUILD/dlc" compile models/mlp_mnist.pbtxt --target cuda --batch "$b" -o "$STAGE/models/mlp_cuda_b$b.dlc" >/dev/null
done
"$BUILD/dlc" compile models/mlp_mnist.pbtxt --target cpu --batch 128 -o "$STAGE/models/mlp_cpu_b128.dlc" >/dev/null
for m in models/*.pbtxt; do
  name=$(basename "$m" .pbtxt)
  "$BUILD/dlc" compile "$m" --target cuda --batch 64 -o "$STAGE/models/${name}_cuda.dlc" >/dev/null
done
# A --data-parallel executable, run here in one process (issue 16): its
# bucket is a copy there, and it must train as the plain file does.
"$BUILD/dlc" compile models/mlp_mnist.pbtxt --target cuda --batch 64 --data-parallel \
  -o "$STAGE/models/mlp_dp_cuda.dlc" >/dev/null
# Data for the models that are not Fashion-MNIST-shaped: 2 features with a
# 0/1 label (logistic regression, perceptron), 3 features with a real target.
awk 'BEGIN { srand(1); for (i = 0; i < 2048; i++) { a = rand(); b = rand(); c = rand();
       print a "," b > "'"$STAGE"'/csv/x2.csv"; print (a + b > 1 ? 1 : 0) > "'"$STAGE"'/csv/y2.csv";
       print a "," b "," c > "'"$STAGE"'/csv/x3.csv"; print 2*a - 3*b + 0.5*c + 1 > "'"$STAGE"'/csv/y3.csv" } }'
cp /usr/share/datasets/fashion-mnist/*.gz "$STAGE/data/"
mkdir -p .gpu
tar -C "$STAGE" -cf - . | xz -T"$(nproc)" -6 >.gpu/pack.tar.xz
ls -la .gpu/pack.tar.xz
