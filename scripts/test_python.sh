#!/usr/bin/env bash
# The Python package's tests: scripts/install_python.sh (pip install ./python
# into .venv/), then pytest over python/tests/. The tests that compare with
# dlrun use build/'s tools (DLC_BUILD_DIR), so run this after building:
# scripts/test.sh does both. PyTorch tests run where PyTorch is installed in
# .venv and skip otherwise.
#
#   bash scripts/test_python.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install_python.sh
.venv/bin/pip install -q --disable-pip-version-check pytest
DLC_BUILD_DIR="${DLC_BUILD_DIR:-$PWD/build}" .venv/bin/python -m pytest -q python/tests "$@"
