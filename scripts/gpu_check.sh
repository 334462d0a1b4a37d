#!/usr/bin/env bash
# Runs on the GPU machine from the repository root, with .gpu/pack.tar.xz
# made by scripts/gpu_pack.sh (issue 10): the cuda target against the
# reference (every kernel of the first train_step and predict of every model,
# --verify-fusion; a --data-parallel file alone against the plain one), against the cpu target (one epoch, same weights and
# order; ten epochs' accuracy), under compute-sanitizer, then the side-by-side
# benchmark (bench/cuda_mlp/run.sh). The last lines printed are the summary
# and the benchmark table; $OUT gets summary.txt, results.md and every log in
# logs.tar.gz (the device tool brings back at most 8 files).
set -uo pipefail
RESULTS=${OUT:-/tmp/dlc-gpu-out}
OUT=/tmp/dlc-gpu-logs
rm -rf "$OUT" && mkdir -p "$OUT" "$RESULTS"
finish() {
  cp "$OUT/summary.txt" "$RESULTS/" 2>/dev/null
  cp "$OUT/bench/results.md" "$RESULTS/" 2>/dev/null
  # Under a folder of its own name: a "./" entry would give the folder it is
  # unpacked into this folder's mode (it made /tmp 0755 once).
  tar -C "$(dirname "$OUT")" -czf "$RESULTS/logs.tar.gz" "$(basename "$OUT")"
}
trap finish EXIT
W=/tmp/dlc-gpu
rm -rf "$W" && mkdir -p "$W" && tar -C "$W" -xJf .gpu/pack.tar.xz
# cuBLAS: the toolkit's, else the one PyTorch's wheels bring.
CUBLAS_DIR=$(python3 -c 'import nvidia.cublas, os; print(os.path.join(nvidia.cublas.__path__[0], "lib"))' 2>/dev/null || true)
export LD_LIBRARY_PATH="$W/lib:/usr/local/cuda/lib64:${CUBLAS_DIR}:/usr/local/nvidia/lib64:${LD_LIBRARY_PATH:-}"
DLRUN="$W/bin/dlrun"
M=$W/models
D=$W/data
C=$W/csv
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
started=$(date +%s)
step() { echo; echo "== [$(($(date +%s) - started))s] $*"; }
result() { echo "$*" | tee -a "$SUMMARY"; }
nvidia-smi -L
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv

if [ "${GPU_CHECK_ONLY_BENCH:-0}" = 1 ]; then  # a rerun of the benchmark alone
  bash bench/cuda_mlp/run.sh "$DLRUN" "$M" "$D" "$OUT/bench" 2>&1 | tail -60
  exit 0
fi

# Ten epochs on the cpu target for the accuracy comparison, in the
# background on 8 of the 16 cores while the GPU checks run.
DLC_NUM_THREADS=8 "$DLRUN" train "$M/mlp_cpu_b128.dlc" --data "$D" --epochs 10 --seed 1 --json \
  >"$OUT/ten_epochs_cpu.json" 2>"$OUT/ten_epochs_cpu.err" &
CPU_PID=$!

step "every kernel of train_step and predict against the reference (--verify-fusion), every model"
verify() {  # name, data arguments...
  local name=$1; shift
  if timeout 120 "$DLRUN" train "$M/${name}_cuda.dlc" "$@" --epochs 1 --verify-fusion --json >"$OUT/verify_$name.txt" 2>&1
  then result "PASS verify-fusion $name: $(tail -1 "$OUT/verify_$name.txt")"
  else result "FAIL verify-fusion $name: $(tail -3 "$OUT/verify_$name.txt" | tr '\n' ' ')"; fi
}
for name in mlp_mnist mlp_dropout softmax_regression; do verify "$name" --data "$D" --limit-train 2048 --limit-test 512; done
for name in logistic_regression perceptron; do
  verify "$name" --train-x "$C/x2.csv" --train-y "$C/y2.csv" --test-x "$C/x2.csv" --test-y "$C/y2.csv"
done
verify linear_regression --train-x "$C/x3.csv" --train-y "$C/y3.csv" --test-x "$C/x3.csv" --test-y "$C/y3.csv"

step "a --data-parallel executable in one process: every kernel, and the plain file's training"
verify mlp_dp --data "$D" --limit-train 2048 --limit-test 512
for f in mlp_mnist mlp_dp; do
  "$DLRUN" train "$M/${f}_cuda.dlc" --data "$D" --limit-train 2048 --limit-test 512 --epochs 1 --seed 2 \
    --checkpoint "$OUT/$f.safetensors" --json 2>/dev/null | tail -1 >"$OUT/alone_$f.json"
done
if cmp -s "$OUT/mlp_mnist.safetensors" "$OUT/mlp_dp.safetensors"; then
  result "PASS data-parallel file alone: the same checkpoint bytes as the plain file after an epoch"
else
  result "INFO data-parallel file alone: checkpoints differ from the plain file's (losses: $(cat "$OUT/alone_mlp_mnist.json" \
    | grep -o '"train_loss":[^,]*') vs $(grep -o '"train_loss":[^,]*' "$OUT/alone_mlp_dp.json"))"
fi

step "compute-sanitizer memcheck: one train_step and one predict"
SAN=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
if [ -n "$SAN" ]; then
  # Three calls each: the first runs step by step, then the call is
  # captured as a CUDA graph and replayed.
  timeout 180 "$SAN" --tool memcheck --error-exitcode 9 "$DLRUN" bench "$M/mlp_dropout_cuda.dlc" --steps 2 --warmup 1 \
    >"$OUT/memcheck.txt" 2>&1
  rc=$?
  result "$([ $rc = 0 ] && echo PASS || echo FAIL) compute-sanitizer memcheck (rc $rc): $(grep -E 'ERROR SUMMARY' "$OUT/memcheck.txt" | tail -1)"
else
  result "SKIP compute-sanitizer: not found"
fi

step "CUDA graphs: every entry point of every model captured (no 'step by step' notice)"
for f in "$M"/*_cuda*.dlc; do
  "$DLRUN" bench "$f" --steps 3 --warmup 1 --json >/dev/null 2>>"$OUT/graphs.txt" || echo "$f: bench failed" >>"$OUT/graphs.txt"
done
if grep -q . "$OUT/graphs.txt"; then result "FAIL CUDA graph capture: $(head -3 "$OUT/graphs.txt" | tr '\n' ' ')"
else result "PASS CUDA graph capture: every entry point of $(ls "$M"/*_cuda*.dlc | wc -l) executables replays as one graph"; fi

step "one epoch, cuda vs cpu (same weights, same order)"
"$DLRUN" train "$M/mlp_cuda_b128.dlc" --data "$D" --epochs 1 --seed 1 --json 2>/dev/null | tail -1 >"$OUT/epoch_cuda.json"
DLC_NUM_THREADS=8 "$DLRUN" train "$M/mlp_cpu_b128.dlc" --data "$D" --epochs 1 --seed 1 --json 2>/dev/null | tail -1 \
  >"$OUT/epoch_cpu.json"
step "ten epochs on cuda"
"$DLRUN" train "$M/mlp_cuda_b128.dlc" --data "$D" --epochs 10 --seed 1 --json 2>"$OUT/ten_epochs_cuda.err" | tail -1 \
  >"$OUT/ten_epochs_cuda.json"
wait "$CPU_PID"
python3 - "$OUT" <<'PY' | tee -a "$SUMMARY"
import json, os, sys
out = sys.argv[1]
def load(name):
    try:
        return json.loads(open(os.path.join(out, name)).read().strip().splitlines()[-1])
    except Exception as e:
        return {"error": f"{name}: {e}"}
cuda, cpu = load("epoch_cuda.json"), load("epoch_cpu.json")
if "error" in cuda or "error" in cpu:
    print(f"FAIL one epoch: {cuda.get('error', '')} {cpu.get('error', '')}")
else:
    rel = abs(cuda["train_loss"] - cpu["train_loss"]) / abs(cpu["train_loss"])
    # accuracies are multiples of 1/10000: compare in those units, not in float
    ok = rel <= 1e-3 and round(abs(cuda["test_accuracy"] - cpu["test_accuracy"]) * 1e4) <= 50
    print(f"{'PASS' if ok else 'FAIL'} one epoch: train loss cuda {cuda['train_loss']:.6f} cpu {cpu['train_loss']:.6f} "
          f"(relative {rel:.2e}); test accuracy cuda {cuda['test_accuracy']:.4f} cpu {cpu['test_accuracy']:.4f}")
cuda, cpu = load("ten_epochs_cuda.json"), load("ten_epochs_cpu.json")
if "error" in cuda or "error" in cpu:
    print(f"FAIL ten epochs: {cuda.get('error', '')} {cpu.get('error', '')}")
else:
    ok = round(abs(cuda["test_accuracy"] - cpu["test_accuracy"]) * 1e4) <= 50
    print(f"{'PASS' if ok else 'FAIL'} ten epochs: test accuracy cuda {cuda['test_accuracy']:.4f} cpu "
          f"{cpu['test_accuracy']:.4f} (training {cuda['train_seconds']:.1f} s on cuda, {cpu['train_seconds']:.1f} s on 8 cpu threads)")
PY

step "benchmark: dlc cuda, PyTorch eager, torch.compile, JAX (bench/cuda_mlp/run.sh)"
if [ "${GPU_CHECK_BENCH:-1}" = 1 ]; then
  bash bench/cuda_mlp/run.sh "$DLRUN" "$M" "$D" "$OUT/bench" 2>&1 | tail -60
fi
step "summary"
cat "$SUMMARY"
