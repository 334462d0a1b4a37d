#!/usr/bin/env bash
# The Python package on a fresh machine: the build's Debian packages, a
# virtual environment (.venv/ unless VENV names another), and
# `pip install ./python` into it, which builds the extension module from this
# repository's CMake project in build-python/ (a second run rebuilds only
# what changed). Then: .venv/bin/python -c "import dlc".
#
#   bash scripts/install_python.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv}

bash scripts/install_packages.sh
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
# ccache, where installed, keeps rebuilding the module cheap.
args=()
if command -v ccache >/dev/null; then
  args+=(-C cmake.define.CMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" "$venv/bin/pip" install -q --disable-pip-version-check ./python "${args[@]}"
