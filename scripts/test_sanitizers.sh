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
# Line tables only (-g1): the reports still name file and line, and the
# objects are a quarter smaller and compile ~15% faster than with -g.
cmake -S . -B "$build" -DDLC_SANITIZE=ON -DDLC_WITH_CUDA=OFF -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DCMAKE_C_FLAGS_DEBUG=-g1 >/dev/null
make -C "$build" -j"$(nproc)" >/dev/null

# Leaks are not checked here (as in the earlier three-suite step); the fuzz
# targets (scripts/fuzz.sh) do check them for every parser.
export ASAN_OPTIONS=detect_leaks=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Left out here, run only in the plain build: the five tests that take 4-8
# minutes each at -O0 under ASan (70% of this suite's serial time) and run
# no code the rest of this suite does not run on smaller inputs: cnn_bn's
# gradient check and training run (lenet5's run here), the 20,000-node chain
# (the 3,000-node one runs here), and the two pinned kernel-count tests, which
# check every model's kernels against the reference (DlrunEndToEnd compiles
# and runs every model here).
heavy='GradcheckShippedModel.WithinTolerance/cnn_bn|DlrunTrainCnn.*cnn_bn|DeepGraph.TwentyThousandNodeChain'
heavy+='|Fusion.ModelKernelCountsArePinned|Fusion.ConvolutionsAsGemmLeaveNoLibraryCall'
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" -E "$heavy" "$@"
