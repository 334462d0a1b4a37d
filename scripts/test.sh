#!/usr/bin/env bash
# Installs the build's packages when missing, builds dlc and runs every test
# (ctest over the GoogleTest suites, the FileCheck tests in tests/filecheck/
# and the installed-package test), then the Python package's tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# The build's Debian packages, as .ci/run installs them; llvm-19-tools brings
# FileCheck for the tests/filecheck/ suites, pkg-config the install test's
# (scripts/test_install.sh), and without dataset-fashion-mnist the tests
# that train on it would skip.
if ! dpkg -s cmake g++ make pkg-config llvm-19-dev llvm-19-tools liblld-19-dev libprotobuf-dev \
     protobuf-compiler libopenblas-dev libgtest-dev zlib1g-dev libzstd-dev dataset-fashion-mnist python3-dev python3-venv >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq cmake g++ make pkg-config llvm-19-dev llvm-19-tools liblld-19-dev libprotobuf-dev \
    protobuf-compiler libopenblas-dev libgtest-dev zlib1g-dev libzstd-dev dataset-fashion-mnist python3-dev python3-venv >/dev/null
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
make -C build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)"
# The Python package: pip install ./python into .venv/, then pytest.
bash scripts/test_python.sh
