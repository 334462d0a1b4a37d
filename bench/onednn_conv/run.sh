#!/usr/bin/env bash
# Builds and runs onednn_conv.cc (oneDNN's convolution primitives on LeNet-5's
# convolutions), then prints dlc's own convolution kernels from
# `dlrun bench --profile` on the same machine, for the comparison.
#   BENCH_THREADS  threads for both (default 2); DLC_BUILD: dlc's build folder (default build)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${DLC_BUILD:-$ROOT/build}
THREADS=${BENCH_THREADS:-2}
OUT=$(mktemp -d /tmp/dlc-onednn-conv.XXXXXX)
g++ -O2 -fopenmp "$HERE/onednn_conv.cc" -ldnnl -o "$OUT/onednn_conv"
echo "## oneDNN convolution primitives ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $THREADS threads)"
OMP_NUM_THREADS=$THREADS taskset -c 0-$((THREADS - 1)) "$OUT/onednn_conv"
echo
for batch in 128 32; do
  "$BUILD/dlc" compile "$ROOT/models/lenet5.pbtxt" --batch "$batch" --cpu native -o "$OUT/lenet_b$batch.dlc" >/dev/null
  echo "## dlc, LeNet-5 batch $batch: train_step's kernels (mean ms; conv = patches, matmul, fold_patches)"
  taskset -c 0-$((THREADS - 1)) "$BUILD/dlrun" bench "$OUT/lenet_b$batch.dlc" --profile --steps 200 \
    --threads "$THREADS" --entry train_step | sed -n '/^  train_step$/,/total/p'
done
