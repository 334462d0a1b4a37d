#!/usr/bin/env bash
# The Python package's tests: a virtual environment in .venv/ (made once),
# `pip install ./python` into it (the extension module builds in
# build-python/, so a second run rebuilds only what changed), then pytest
# over python/tests/. The tests that compare with dlrun use build/'s tools
# (DLC_BUILD_DIR), so run this after building: scripts/test.sh does both.
# PyTorch tests run where PyTorch is installed in .venv and skip otherwise.
#
#   bash scripts/test_python.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check numpy pytest
# ccache, where installed, keeps rebuilding the module cheap.
args=()
if command -v ccache >/dev/null; then
  args+=(-C cmake.define.CMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" .venv/bin/pip install -q --disable-pip-version-check ./python "${args[@]}"
DLC_BUILD_DIR="${DLC_BUILD_DIR:-$PWD/build}" .venv/bin/python -m pytest -q python/tests "$@"
