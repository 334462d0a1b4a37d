#!/usr/bin/env bash
# Issue 16's benchmark: data-parallel training on this machine. The MLP
# (models/mlp_mnist.pbtxt) and LeNet-5 (models/lenet5.pbtxt) at one
# global batch, trained by
#   - 1 process with 2 threads (the ordinary executable), and
#   - 2 processes with 1 thread each (mpirun -np 2, --data-parallel, half
#     the batch each),
# with the all-reduce's time and bytes per step, and the scaling model of
# docs/data-parallel.md beside them. Prints one table (also in $OUT/results.md).
#
# Environment (all optional):
#   DLC_BUILD     cmake build folder with dlc, dlrun, libdlrt_mpi.so (default: build)
#   BENCH_OUT     folder for the JSON results (default: a new /tmp folder)
#   BENCH_ROUNDS  rounds; the fastest counts (default 3)
#   BENCH_TRAIN   training examples per run (default 30000)
#   BENCH_DATA    Fashion-MNIST folder (default /usr/share/datasets/fashion-mnist)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${DLC_BUILD:-$ROOT/build}
OUT=${BENCH_OUT:-$(mktemp -d /tmp/dlc-bench-dp.XXXXXX)}
ROUNDS=${BENCH_ROUNDS:-3}
TRAIN=${BENCH_TRAIN:-30000}
DATA=${BENCH_DATA:-/usr/share/datasets/fashion-mnist}
mkdir -p "$OUT"
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --bind-to none)
export OMPI_MCA_btl_base_warn_component_unused=0

run_case() {  # name model global_batch
  local name=$1 model=$2 global=$3 half=$(($3 / 2))
  "$BUILD/dlc" compile "$ROOT/models/$model" --batch "$global" -o "$OUT/$name.one.dlc" >/dev/null
  "$BUILD/dlc" compile "$ROOT/models/$model" --batch "$half" --data-parallel -o "$OUT/$name.dp.dlc" >/dev/null
  local args=(--data "$DATA" --epochs 1 --limit-train "$TRAIN" --limit-test 1000 --json)
  for r in $(seq "$ROUNDS"); do
    DLC_NUM_THREADS=2 taskset -c 0-1 "$BUILD/dlrun" train "$OUT/$name.one.dlc" "${args[@]}" 2>/dev/null \
      >"$OUT/$name.one.$r.json"
    DLC_NUM_THREADS=1 "${MPIRUN[@]}" -np 2 "$BUILD/dlrun" train "$OUT/$name.dp.dlc" "${args[@]}" 2>/dev/null \
      >"$OUT/$name.dp.$r.json"
  done
  python3 "$HERE/report.py" "$OUT" "$name" "$global" "$ROUNDS" >>"$OUT/results.md"
}

echo "| model | global batch | 1 process x 2 threads: ms/step | 2 processes x 1 thread: ms/step | all-reduce ms/step | bytes sent/step/process | model: 10 Gbit/s, 2 machines | model: 100 Gbit/s, 2 machines |" >"$OUT/results.md"
echo "|---|---|---|---|---|---|---|---|" >>"$OUT/results.md"
run_case mlp mlp_mnist.pbtxt 128
run_case lenet lenet5.pbtxt 64
cat "$OUT/results.md"
echo "(results in $OUT)" >&2
