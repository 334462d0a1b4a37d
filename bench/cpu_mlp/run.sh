#!/usr/bin/env bash
# Issue 4's CPU benchmark: the Fashion-MNIST MLP (models/mlp_mnist.pbtxt)
# trained and run by dlc, PyTorch (eager) and JAX (jit) from the same initial
# weights, in the same data order, with the same Adam, on the same cores; and
# the floor (its matrix products alone through OpenBLAS). Prints one table.
#
# Environment (all optional):
#   DLC_BUILD      cmake build folder with dlc and dlrun (default: build)
#   BENCH_VENV     Python virtual environment with torch, jax, numpy; created
#                  and filled from PyPI when it lacks them (default: .venv-bench)
#   BENCH_OUT      folder for the JSON results and results.md (default: a new /tmp folder)
#   BENCH_THREADS  threads per framework (default 2)
#   BENCH_CORES    taskset core list (default 0..BENCH_THREADS-1)
#   BENCH_SCALE    multiply every timed step count (0.1 for a quick look; default 1)
#   BENCH_ROUNDS   times to repeat every measurement; the best median counts (default 3)
#   BENCH_DATA     Fashion-MNIST folder (default /usr/share/datasets/fashion-mnist)
#   BENCH_LOAD_ROUNDS  rounds under a competing load: a busy loop pinned to
#                  the last of BENCH_CORES while dlc, PyTorch and JAX take
#                  turns, each right after a quiet round it is compared
#                  with (default BENCH_ROUNDS; 0 skips them)
#   BENCH_DLC_CPU  dlc compile --cpu (default native: the host's instruction set,
#                  as PyTorch's kernels and XLA pick theirs at run time; the
#                  same default as bench/cpu_cnn)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${DLC_BUILD:-$ROOT/build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
VENV=${BENCH_VENV:-$ROOT/.venv-bench}
OUT=${BENCH_OUT:-$(mktemp -d /tmp/dlc-bench.XXXXXX)}
THREADS=${BENCH_THREADS:-2}
CORES=${BENCH_CORES:-0-$((THREADS - 1))}
SCALE=${BENCH_SCALE:-1}
ROUNDS=${BENCH_ROUNDS:-3}
DLC_CPU=${BENCH_DLC_CPU:-native}
DATA=${BENCH_DATA:-/usr/share/datasets/fashion-mnist}
LOAD_ROUNDS=${BENCH_LOAD_ROUNDS:-$ROUNDS}
SEED=1
MODEL=$ROOT/models/mlp_mnist.pbtxt
mkdir -p "$OUT"
started=$(date +%s)
say() { echo "[$(($(date +%s) - started))s] $*" >&2; }

# --- tools -----------------------------------------------------------------
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  say "configuring $BUILD"
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
say "building dlc and dlrun in $BUILD"
cmake --build "$BUILD" --target dlc dlrun -j"$(nproc)" >/dev/null
DLC=$BUILD/dlc
DLRUN=$BUILD/dlrun

if ! "$VENV/bin/python" -c 'import torch, jax, numpy' 2>/dev/null; then
  say "creating $VENV with torch, jax and numpy from PyPI (a few GiB, once)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q torch jax numpy
fi
PY=$VENV/bin/python

say "building the GEMM floor program"
cc -O3 -march=native -fopenmp "$HERE/gemm_floor.c" -o "$OUT/gemm_floor" -lopenblas -ldnnl -lm

# Every framework gets the same cores and thread count.
export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS DLC_NUM_THREADS=$THREADS
PIN=(taskset -c "$CORES")
cut -d' ' -f1-3 /proc/loadavg >"$OUT/load_start.txt"
echo "$DLC_CPU" >"$OUT/dlc_cpu.txt"
# Timed calls per measurement (about a second or two each here), times BENCH_SCALE.
declare -A TRAIN_STEPS=([32]=600 [128]=300 [1024]=60) PREDICT_STEPS=([1]=2000 [128]=500 [10000]=15)
scaled() { "$PY" -c "print(max(3, int($1 * $SCALE)))"; }

# --- dlc -------------------------------------------------------------------
for b in 1 32 128 1024 10000; do
  "$DLC" compile "$MODEL" --batch "$b" --cpu "$DLC_CPU" -o "$OUT/mlp_b$b.dlc" >/dev/null
done
say "timing dlc compile (batch 128, median of 3)"
"$PY" "$HERE/measure.py" --repeat 3 -- "${PIN[@]}" "$DLC" compile "$MODEL" --batch 128 --cpu "$DLC_CPU" -o "$OUT/mlp_compile.dlc" \
  >"$OUT/compile.json"
# The same initial weights for PyTorch and JAX (every batch size has the same ones).
"$DLRUN" bench "$OUT/mlp_b128.dlc" --entry predict --steps 1 --warmup 0 --save-initial "$OUT/initial.safetensors" \
  >/dev/null

# Step and inference timings of dlc, PyTorch and JAX into folder $1.
time_steps() {
  local dir=$1 b fw
  for b in 32 128 1024; do
    "${PIN[@]}" "$DLRUN" bench "$OUT/mlp_b$b.dlc" --entry train_step --steps "$(scaled "${TRAIN_STEPS[$b]}")" \
      --warmup 20 --threads "$THREADS" --json >"$dir/dlc_train_step_$b.json"
  done
  for b in 1 128 10000; do
    "${PIN[@]}" "$DLRUN" bench "$OUT/mlp_b$b.dlc" --entry predict --steps "$(scaled "${PREDICT_STEPS[$b]}")" \
      --warmup 5 --threads "$THREADS" --json >"$dir/dlc_predict_$b.json"
  done
  for fw in torch jax; do
    "${PIN[@]}" "$PY" "$HERE/${fw}_mlp.py" --mode steps --weights "$OUT/initial.safetensors" --threads "$THREADS" \
      --scale "$SCALE" --out "$dir/${fw}_steps.json" >/dev/null
  done
}

# Rounds: every measurement runs BENCH_ROUNDS times, the frameworks taking
# turns, and the report keeps each one's best median. Another process
# stealing a core slows a measurement; nothing makes one faster.
for r in $(seq 1 "$ROUNDS"); do
  R=$OUT/round$r
  mkdir -p "$R"
  say "round $r/$ROUNDS: dlrun bench, torch and jax step and inference timings"
  time_steps "$R"
  # One epoch each at batch 128 in dlrun's order.
  say "round $r/$ROUNDS: one Fashion-MNIST epoch each"
  "$PY" "$HERE/measure.py" -- "${PIN[@]}" "$DLRUN" train "$OUT/mlp_b128.dlc" --data "$DATA" --epochs 1 \
    --seed "$SEED" --json >"$R/dlc_epoch.json" 2>/dev/null
  for fw in torch jax; do
    "${PIN[@]}" "$PY" "$HERE/${fw}_mlp.py" --mode epoch --weights "$OUT/initial.safetensors" --data "$DATA" \
      --seed "$SEED" --threads "$THREADS" --out "$R/${fw}_epoch.json" >/dev/null
  done
  say "round $r/$ROUNDS: GEMM floor"
  "${PIN[@]}" "$OUT/gemm_floor" "$THREADS" 1 32 128 1024 10000 >"$R/floor.json"
done
"${PIN[@]}" "$DLRUN" bench "$OUT/mlp_b128.dlc" --threads "$THREADS" --steps "$(scaled 300)" --warmup 20 --profile \
  >"$OUT/dlc_profile_128.txt"
# Per-call time outside the kernels at the smallest and largest batch.
"${PIN[@]}" "$DLRUN" bench "$OUT/mlp_b1.dlc" --entry predict --threads "$THREADS" --steps "$(scaled 5000)" \
  --warmup 20 --profile >"$OUT/dlc_profile_1.txt"
"${PIN[@]}" "$DLRUN" bench "$OUT/mlp_b10000.dlc" --entry predict --threads "$THREADS" --steps "$(scaled 30)" \
  --warmup 3 --profile >"$OUT/dlc_profile_10000.txt"

# Under a competing load: the same measurements with a busy loop on one core.
source "$HERE/competing_load.sh"
competing_load_rounds "$LOAD_ROUNDS" time_steps

cut -d' ' -f1-3 /proc/loadavg >"$OUT/load_end.txt"
"$PY" "$HERE/report.py" "$OUT"
echo "dlc per-step profile at batch 128: $OUT/dlc_profile_128.txt"
say "done; results in $OUT"
