#!/usr/bin/env bash
# Builds dlc and runs every test (ctest over the GoogleTest suites).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
make -C build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)"
