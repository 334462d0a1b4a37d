#!/usr/bin/env bash
# Builds everything with AddressSanitizer + UBSan (Debug, in build-asan/) and
# runs the whole ctest suite there: malformed files must give errors, not
# memory faults, and no test may touch memory it does not own. Expects the
# build's packages (scripts/test.sh installs them).
#
#   bash scripts/test_sanitizers.sh [extra ctest arguments, e.g. -R Npy]
set -euo pipefail
cd "$(dirname "$0")/.."

build=build-asan
# CUDA is left out: it would add NVRTC compiles of every model under ASan
# to CI's time, and the cuda codegen tests run in the plain build (with the
# toolkit at /usr/local/cuda) anyway.
cmake -S . -B "$build" -DDLC_SANITIZE=ON -DDLC_WITH_CUDA=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
make -C "$build" -j"$(nproc)" >/dev/null

# Leaks are not checked here (as in the earlier three-suite step); the fuzz
# targets (scripts/fuzz.sh) do check them for every parser.
export ASAN_OPTIONS=detect_leaks=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" "$@"
