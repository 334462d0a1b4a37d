#!/usr/bin/env bash
# What Python adds to a predict call at batch 1: the MLP (models/mlp_mnist.pbtxt)
# through the C API in a C loop, through the dlc package, and through ctypes,
# interleaved in one run. Needs build/ (dlc, libdlrt) and the package in
# .venv (bash scripts/test_python.sh makes both).
#
#   bash bench/python_api/run.sh [CALLS] [ROUNDS]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${DLC_BUILD:-$ROOT/build}
OUT=$(mktemp -d /tmp/dlc-python-api.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
"$BUILD/dlc" compile "$ROOT/models/mlp_mnist.pbtxt" --batch 1 --no-train -o "$OUT/mlp_b1.dlc" >/dev/null
cc -O2 -I"$ROOT/runtime/include" "$HERE/c_api_predict.c" -L"$BUILD" -ldlrt -Wl,-rpath,"$BUILD" -o "$OUT/c_api_predict"
lib=$(ls "$BUILD"/libdlrt.so.* | head -1)
taskset -c 0 "$ROOT/.venv/bin/python" "$HERE/bench.py" "$OUT/mlp_b1.dlc" "$OUT/c_api_predict" "$lib" "$@"
