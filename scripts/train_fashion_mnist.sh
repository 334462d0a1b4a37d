#!/usr/bin/env bash
# The main job: set up, compile the MNIST-class MLP (784-256-256-10, ReLU, Adam)
# for the CPU, and train it on Fashion-MNIST with a progress bar and test accuracy.
# Extra arguments go to `dlrun train` (e.g. --epochs 3).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install_packages.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
make -C build -j"$(nproc)" dlc dlrun

TARGET=${DLC_TARGET:-cpu}
./build/dlc compile models/mlp_mnist.pbtxt --target "$TARGET" --batch 128 -o build/mlp_mnist.dlc
./build/dlrun train build/mlp_mnist.dlc --data /usr/share/datasets/fashion-mnist --epochs 10 --seed 1 "$@"
