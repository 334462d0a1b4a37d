#!/usr/bin/env bash
# Installs the Debian packages that building and testing dlc need, when any
# is missing (as root, on Debian 12). The one list: scripts/test.sh,
# scripts/train_fashion_mnist.sh, scripts/install_python.sh and .ci/run use it.
#   llvm-19-tools: FileCheck for tests/filecheck/; pkg-config: the install
#   test (scripts/test_install.sh); python3-dev, python3-venv: the Python
#   package (pip install ./python); libonnx-dev: onnx.proto for the ONNX
#   importer (only the .proto is used); dataset-fashion-mnist: the data the main
#   job and the training tests use; openmpi-bin, libopenmpi-dev: the MPI engine of
#   data-parallel runs (libdlrt_mpi.so) and its tests (mpirun).
set -euo pipefail
packages=(cmake g++ make pkg-config llvm-19-dev llvm-19-tools liblld-19-dev libprotobuf-dev protobuf-compiler
          libonnx-dev libopenblas-dev libdnnl-dev openmpi-bin libopenmpi-dev libgtest-dev zlib1g-dev libzstd-dev dataset-fashion-mnist python3-dev python3-venv)
if ! dpkg -s "${packages[@]}" >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${packages[@]}" >/dev/null
fi
