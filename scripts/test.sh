#!/usr/bin/env bash
# Installs the build's packages when missing, builds dlc and runs every test
# (ctest over the GoogleTest suites, the FileCheck tests in tests/filecheck/
# and the installed-package test), then the Python package's tests.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install_packages.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
make -C build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)"
# The Python package: pip install ./python into .venv/, then pytest.
bash scripts/test_python.sh
