#!/usr/bin/env bash
# Runs on the GPU machine from the repository root, with .gpu/pack.tar.xz
# made by scripts/gpu_pack.sh: the cuda target against the reference (every
# kernel of a step, --verify-fusion) and against the cpu target (the same
# model, weights and data order), then timings. Writes logs under $OUT.
set -uo pipefail
OUT=${OUT:-/tmp/dlc-gpu-out}
mkdir -p "$OUT"
W=/tmp/dlc-gpu
rm -rf "$W" && mkdir -p "$W" && tar -C "$W" -xJf .gpu/pack.tar.xz
# cuBLAS: the toolkit's, else the one PyTorch's wheels bring.
CUBLAS_DIR=$(python3 -c 'import nvidia.cublas, os; print(os.path.join(nvidia.cublas.__path__[0], "lib"))' 2>/dev/null || true)
export LD_LIBRARY_PATH="$W/lib:/usr/local/cuda/lib64:${CUBLAS_DIR}:${LD_LIBRARY_PATH:-}"
DLRUN="$W/bin/dlrun"
M=$W/models
D=$W/data
step() { echo; echo "== $*"; }
nvidia-smi -L
step "dlrun info"
"$DLRUN" info "$M/mlp_cuda_b128.dlc" 2>&1 | tee "$OUT/info.txt"
step "every kernel of train_step and predict against the reference (--verify-fusion)"
for m in mlp_cuda_b128 softmax_regression_cuda logistic_regression_cuda; do
  "$DLRUN" train "$M/$m.dlc" --data "$D" --epochs 1 --limit-train 2048 --limit-test 512 --verify-fusion --json \
    2>&1 | tail -3 | tee "$OUT/verify_$m.txt"
done
step "one epoch, cuda vs cpu (same weights, same order)"
for t in cuda cpu; do
  "$DLRUN" train "$M/mlp_${t}_b128.dlc" --data "$D" --epochs 1 --seed 1 --json --metrics "$OUT/epoch_$t.csv" \
    2>&1 | tail -1 | tee "$OUT/epoch_$t.json"
done
python3 - "$OUT/epoch_cuda.json" "$OUT/epoch_cpu.json" <<'PY'
import json, sys
cuda, cpu = (json.load(open(f)) for f in sys.argv[1:3])
rel = abs(cuda["train_loss"] - cpu["train_loss"]) / abs(cpu["train_loss"])
ok = rel <= 1e-3 and abs(cuda["test_accuracy"] - cpu["test_accuracy"]) <= 0.005
print(f"{'PASS' if ok else 'FAIL'}: epoch train loss cuda {cuda['train_loss']:.6f} cpu {cpu['train_loss']:.6f} "
      f"(relative {rel:.2e}); test accuracy cuda {cuda['test_accuracy']:.4f} cpu {cpu['test_accuracy']:.4f}")
PY
step "10 epochs on cuda"
"$DLRUN" train "$M/mlp_cuda_b128.dlc" --data "$D" --epochs 10 --seed 1 --json 2>&1 | tail -1 | tee "$OUT/ten_epochs_cuda.json"
step "train step timings: dlc cuda, dlc cpu (16 threads), PyTorch cuda (fused Adam), same initial weights"
"$DLRUN" bench "$M/mlp_cpu_b128.dlc" --entry predict --steps 1 --warmup 0 --save-initial "$OUT/initial.safetensors" >/dev/null
for b in 32 128 1024; do
  for t in cuda cpu; do
    echo "dlc $t batch $b: $("$DLRUN" bench "$M/mlp_${t}_b$b.dlc" --steps 200 --warmup 20 --json 2>&1 | tail -1)"
  done
done | tee "$OUT/bench_dlc.txt"
python3 bench/cpu_mlp/torch_mlp.py --device cuda --weights "$OUT/initial.safetensors" --mode steps --threads 16 \
  --out "$OUT/bench_torch_cuda.json" | tail -c 2000
python3 bench/cpu_mlp/torch_mlp.py --device cuda --weights "$OUT/initial.safetensors" --mode epoch --data "$D" \
  --out "$OUT/epoch_torch_cuda.json"
