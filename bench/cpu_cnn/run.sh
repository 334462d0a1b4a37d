#!/usr/bin/env bash
# Issue 12's CPU benchmark: LeNet-5 (models/lenet5.pbtxt) trained and run by
# dlc, PyTorch (eager) and JAX (jit) from the same initial weights, in the same
# data order, with the same Adam, on the same cores; and the floor (the step's
# convolution and matrix-product FLOPs over the GEMM rate measured in the same
# run). Prints one table. The shared pieces (data, shuffle order, timing,
# measure.py, gemm_floor.c) come from ../cpu_mlp.
#
# Environment (all optional), as bench/cpu_mlp/run.sh, plus:
#   DLC_BUILD      cmake build folder with dlc and dlrun (default: build)
#   BENCH_VENV     Python environment with torch, jax, numpy (default: .venv-bench;
#                  bench/cpu_mlp/run.sh creates it)
#   BENCH_OUT      folder for the JSON results and results.md (default: a new /tmp folder)
#   BENCH_THREADS  threads per framework (default 2)
#   BENCH_CORES    taskset core list (default 0..BENCH_THREADS-1)
#   BENCH_SCALE    multiply every timed step count (0.1 for a quick look; default 1)
#   BENCH_ROUNDS   times to repeat every measurement; the best median counts (default 3)
#   BENCH_LOAD_ROUNDS  rounds under a competing load (a busy loop pinned to
#                  the last of BENCH_CORES), each right after a quiet round
#                  it is compared with (default BENCH_ROUNDS; 0 skips them)
#   BENCH_DATA     Fashion-MNIST folder (default /usr/share/datasets/fashion-mnist)
#   BENCH_DLC_CPU  dlc compile --cpu (default native: the host's instruction set,
#                  as PyTorch's kernels and XLA pick theirs at run time)
#   BENCH_DLC      0: leave dlc out (PyTorch and JAX start from
#                  tests/fixtures/lenet5_init.safetensors instead of dlc's weights)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
MLP=$HERE/../cpu_mlp
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${DLC_BUILD:-$ROOT/build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
VENV=${BENCH_VENV:-$ROOT/.venv-bench}
OUT=${BENCH_OUT:-$(mktemp -d /tmp/dlc-cnn-bench.XXXXXX)}
THREADS=${BENCH_THREADS:-2}
CORES=${BENCH_CORES:-0-$((THREADS - 1))}
SCALE=${BENCH_SCALE:-1}
ROUNDS=${BENCH_ROUNDS:-3}
LOAD_ROUNDS=${BENCH_LOAD_ROUNDS:-$ROUNDS}
DATA=${BENCH_DATA:-/usr/share/datasets/fashion-mnist}
WITH_DLC=${BENCH_DLC:-1}
DLC_CPU=${BENCH_DLC_CPU:-native}
SEED=1
MODEL=$ROOT/models/lenet5.pbtxt
mkdir -p "$OUT"
started=$(date +%s)
say() { echo "[$(($(date +%s) - started))s] $*" >&2; }

PY=$VENV/bin/python
if ! "$PY" -c 'import torch, jax, numpy' 2>/dev/null; then
  echo "$PY cannot import torch, jax and numpy: set BENCH_VENV, or run bench/cpu_mlp/run.sh once to create it" >&2
  exit 1
fi

if [ "$WITH_DLC" != 0 ]; then
  if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    say "configuring $BUILD"
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  say "building dlc and dlrun in $BUILD"
  cmake --build "$BUILD" --target dlc dlrun -j"$(nproc)" >/dev/null
fi
DLC=$BUILD/dlc
DLRUN=$BUILD/dlrun

say "building the GEMM rate program"
cc -O3 -march=native -fopenmp "$MLP/gemm_floor.c" -o "$OUT/gemm_floor" -lopenblas -ldnnl -lm

# Every framework gets the same cores and thread count.
export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS DLC_NUM_THREADS=$THREADS
PIN=(taskset -c "$CORES")
cut -d' ' -f1-3 /proc/loadavg >"$OUT/load_start.txt"
echo "$DLC_CPU" >"$OUT/dlc_cpu.txt"
# Timed calls per measurement (the same counts as bench/cpu_cnn/lenet.py's steps_for), times BENCH_SCALE.
declare -A TRAIN_STEPS=([32]=300 [128]=80) PREDICT_STEPS=([1]=1000 [128]=150 [10000]=3)
scaled() { "$PY" -c "print(max(3, int($1 * $SCALE)))"; }

# --- dlc: compile, and the initial weights every framework starts from ------
INITIAL=$ROOT/tests/fixtures/lenet5_init.safetensors
if [ "$WITH_DLC" != 0 ]; then
  for b in 1 32 128 10000; do
    "$DLC" compile "$MODEL" --batch "$b" --cpu "$DLC_CPU" -o "$OUT/lenet_b$b.dlc" >/dev/null
  done
  say "timing dlc compile (batch 128, median of 3)"
  "$PY" "$MLP/measure.py" --repeat 3 -- "${PIN[@]}" "$DLC" compile "$MODEL" --batch 128 --cpu "$DLC_CPU" \
    -o "$OUT/lenet_compile.dlc" >"$OUT/compile.json"
  INITIAL=$OUT/initial.safetensors
  "$DLRUN" bench "$OUT/lenet_b128.dlc" --entry predict --steps 1 --warmup 0 --save-initial "$INITIAL" >/dev/null
fi

# Step and inference timings of dlc (unless BENCH_WITH_DLC=0), PyTorch and
# JAX into folder $1.
time_steps() {
  local dir=$1 b fw
  if [ "$WITH_DLC" != 0 ]; then
    for b in 32 128; do
      "${PIN[@]}" "$DLRUN" bench "$OUT/lenet_b$b.dlc" --entry train_step --steps "$(scaled "${TRAIN_STEPS[$b]}")" \
        --warmup 10 --threads "$THREADS" --json >"$dir/dlc_train_step_$b.json"
    done
    for b in 1 128 10000; do
      "${PIN[@]}" "$DLRUN" bench "$OUT/lenet_b$b.dlc" --entry predict --steps "$(scaled "${PREDICT_STEPS[$b]}")" \
        --warmup 2 --threads "$THREADS" --json >"$dir/dlc_predict_$b.json"
    done
  fi
  for fw in torch jax; do
    "${PIN[@]}" "$PY" "$HERE/${fw}_lenet.py" --mode steps --weights "$INITIAL" --threads "$THREADS" \
      --scale "$SCALE" --out "$dir/${fw}_steps.json" >/dev/null
  done
}

# Rounds: every measurement runs BENCH_ROUNDS times, the frameworks taking
# turns, and the report keeps each one's best median.
for r in $(seq 1 "$ROUNDS"); do
  R=$OUT/round$r
  mkdir -p "$R"
  say "round $r/$ROUNDS: step and inference timings"
  time_steps "$R"
  # One epoch each at batch 128 in dlrun's order.
  say "round $r/$ROUNDS: one Fashion-MNIST epoch each"
  if [ "$WITH_DLC" != 0 ]; then
    "$PY" "$MLP/measure.py" -- "${PIN[@]}" "$DLRUN" train "$OUT/lenet_b128.dlc" --data "$DATA" --epochs 1 \
      --seed "$SEED" --json >"$R/dlc_epoch.json" 2>/dev/null
  fi
  for fw in torch jax; do
    "${PIN[@]}" "$PY" "$HERE/${fw}_lenet.py" --mode epoch --weights "$INITIAL" --data "$DATA" \
      --seed "$SEED" --threads "$THREADS" --out "$R/${fw}_epoch.json" >/dev/null
  done
  say "round $r/$ROUNDS: GEMM rate"
  "${PIN[@]}" "$OUT/gemm_floor" "$THREADS" >"$R/floor.json"
done
if [ "$WITH_DLC" != 0 ]; then
  "${PIN[@]}" "$DLRUN" bench "$OUT/lenet_b128.dlc" --threads "$THREADS" --steps "$(scaled 80)" --warmup 10 \
    --profile >"$OUT/dlc_profile_128.txt"
fi

# Under a competing load: the same measurements with a busy loop on one core.
source "$MLP/competing_load.sh"
competing_load_rounds "$LOAD_ROUNDS" time_steps

cut -d' ' -f1-3 /proc/loadavg >"$OUT/load_end.txt"
"$PY" "$HERE/report.py" "$OUT"
[ "$WITH_DLC" != 0 ] && echo "dlc per-step profile at batch 128: $OUT/dlc_profile_128.txt"
say "done; results in $OUT"
