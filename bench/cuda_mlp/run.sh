#!/usr/bin/env bash
# Issue 10's GPU benchmark, run on the GPU machine: the Fashion-MNIST MLP
# (models/mlp_mnist.pbtxt, Adam) trained by dlc's cuda target, PyTorch eager
# (fused Adam), torch.compile(mode="reduce-overhead") and JAX jit, from the
# same initial weights, side by side on the same GPU; and the floors
# (gpu_floor.py). Prints one table (report.py).
#
#   bash bench/cuda_mlp/run.sh DLRUN MODELS DATA OUT
# DLRUN: dlrun; MODELS: folder with mlp_cuda_b{1,32,128,1024,10000}.dlc
# (scripts/gpu_pack.sh makes them); DATA: Fashion-MNIST; OUT: results folder.
# BENCH_ROUNDS (default 2): rounds of the step timings, the contenders taking
# turns; the best median counts. torch.compile runs in the first round only
# (its compile takes minutes). BENCH_SCALE multiplies the timed steps.
# BENCH_COMPILE=0 leaves torch.compile out, BENCH_EPOCHS=0 the epochs;
# BENCH_COMPILE_TIMEOUT (default 300) limits each torch.compile process;
# BENCH_PEERS=0 leaves PyTorch eager and JAX out (a rerun for torch.compile).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DLRUN=$1 M=$2 DATA=$3 OUT=$4
ROUNDS=${BENCH_ROUNDS:-2}
SCALE=${BENCH_SCALE:-1}
PY=${BENCH_PYTHON:-python3}
mkdir -p "$OUT"
started=$(date +%s)
say() { echo "[$(($(date +%s) - started))s] $*" >&2; }
export XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
PEER=$HERE/../cpu_mlp

say "floors"
timeout 120 "$PY" "$HERE/gpu_floor.py" "$OUT/floor.json" >/dev/null || say "gpu_floor.py failed"
"$DLRUN" bench "$M/mlp_cuda_b128.dlc" --entry predict --steps 1 --warmup 0 --save-initial "$OUT/initial.safetensors" \
  >/dev/null
"$DLRUN" info "$M/mlp_cuda_b128.dlc" >"$OUT/dlc_info.txt" 2>&1
for r in $(seq 1 "$ROUNDS"); do
  R=$OUT/round$r
  mkdir -p "$R"
  say "round $r: dlc"
  for b in 32 128 1024; do
    "$DLRUN" bench "$M/mlp_cuda_b$b.dlc" --entry train_step --steps "$("$PY" -c "print(max(3, int(300 * $SCALE)))")" --warmup 30 --json \
      >"$R/dlc_train_step_$b.json" || say "dlc train_step $b failed"
  done
  for b in 1 128 10000; do
    "$DLRUN" bench "$M/mlp_cuda_b$b.dlc" --entry predict --steps 200 --warmup 20 --json >"$R/dlc_predict_$b.json" ||
      say "dlc predict $b failed"
  done
  say "round $r: dlc without CUDA graphs (DLC_CUDA_GRAPHS=0)"
  for b in 32 128 1024; do
    DLC_CUDA_GRAPHS=0 "$DLRUN" bench "$M/mlp_cuda_b$b.dlc" --entry train_step --steps 200 --warmup 20 --json \
      >"$R/dlc_nograph_train_step_$b.json" || say "dlc (no graphs) train_step $b failed"
  done
  if [ "${BENCH_PEERS:-1}" = 1 ]; then
  say "round $r: PyTorch eager"
  timeout 120 "$PY" "$PEER/torch_mlp.py" --device cuda --mode steps --weights "$OUT/initial.safetensors" \
    --threads 16 --scale "$SCALE" --out "$R/torch_steps.json" >/dev/null || say "torch eager failed"
  say "round $r: JAX"
  timeout 120 "$PY" "$PEER/jax_mlp.py" --mode steps --weights "$OUT/initial.safetensors" --scale "$SCALE" \
    --out "$R/jax_steps.json" >/dev/null || say "jax failed"
  fi
  if [ "$r" = 1 ] && [ "${BENCH_COMPILE:-1}" = 1 ]; then
    say "round $r: torch.compile reduce-overhead"
    timeout "${BENCH_COMPILE_TIMEOUT:-300}" "$PY" "$PEER/torch_mlp.py" --device cuda --compile reduce-overhead --mode steps \
      --weights "$OUT/initial.safetensors" --threads 16 --scale "$SCALE" --out "$R/torch_compile_steps.json" \
      >"$OUT/torch_compile.log" 2>&1 || say "torch.compile failed (log: torch_compile.log)"
  fi
done
if [ "${BENCH_EPOCHS:-1}" = 1 ]; then
say "one Fashion-MNIST epoch each (batch 128)"
"$DLRUN" train "$M/mlp_cuda_b128.dlc" --data "$DATA" --epochs 1 --seed 1 --json 2>/dev/null | tail -1 \
  >"$OUT/dlc_epoch.json"
[ "${BENCH_PEERS:-1}" = 1 ] && timeout 120 "$PY" "$PEER/torch_mlp.py" --device cuda --mode epoch --weights "$OUT/initial.safetensors" --data "$DATA" \
  --out "$OUT/torch_epoch.json" >/dev/null || say "torch eager epoch failed"
[ "${BENCH_PEERS:-1}" = 1 ] && timeout 120 "$PY" "$PEER/jax_mlp.py" --mode epoch --weights "$OUT/initial.safetensors" --data "$DATA" \
  --out "$OUT/jax_epoch.json" >/dev/null || say "jax epoch failed"
if [ "${BENCH_COMPILE:-1}" = 1 ]; then
  timeout "${BENCH_COMPILE_TIMEOUT:-300}" "$PY" "$PEER/torch_mlp.py" --device cuda --compile reduce-overhead --mode epoch \
    --weights "$OUT/initial.safetensors" --data "$DATA" --out "$OUT/torch_compile_epoch.json" \
    >>"$OUT/torch_compile.log" 2>&1 || say "torch.compile epoch failed"
fi
fi
"$PY" "$HERE/report.py" "$OUT" | tee "$OUT/results.md"
say "done"
