#!/usr/bin/env bash
# Runs on the GPU machine from the repository root, with
# .gpu-tests/pack.tar.xz made by scripts/gpu_pack_tests.sh: the cuda
# executor's tests, which skip on machines without a GPU.
set -uo pipefail
OUT=${OUT:-/tmp/dlc-gpu-out}
mkdir -p "$OUT"
W=/tmp/dlc-gpu-tests
rm -rf "$W" && mkdir -p "$W" && tar -C "$W" -xJf .gpu-tests/pack.tar.xz
CUBLAS_DIR=$(python3 -c 'import nvidia.cublas, os; print(os.path.join(nvidia.cublas.__path__[0], "lib"))' 2>/dev/null || true)
NVRTC_DIR=$(python3 -c 'import nvidia.cuda_nvrtc, os; print(os.path.join(nvidia.cuda_nvrtc.__path__[0], "lib"))' 2>/dev/null || true)
export LD_LIBRARY_PATH="$W/lib:/usr/local/cuda/lib64:${CUBLAS_DIR}:${NVRTC_DIR}:${LD_LIBRARY_PATH:-}"
export DLC_SOURCE_DIR=$PWD
nvidia-smi -L
"$W/bin/cuda_executor_test" --gtest_output="xml:$OUT/cuda_executor_test.xml" 2>&1 | tee "$OUT/cuda_executor_test.txt" | tail -40
