#!/usr/bin/env bash
# Runs one FileCheck test in the XLA/LLVM lit style: every "RUN:" line of the
# test file (after a comment marker, "#" in .pbtxt) is a shell pipeline, run
# with pipefail after these substitutions:
#   %dlc  the dlc tool        %s  the test file       %t  a scratch path for this test
#   FileCheck                 LLVM's FileCheck (llvm-19-tools)
#   not CMD                   succeeds only when CMD fails (for error tests)
# usage: run_filecheck.sh DLC FILECHECK TEST_FILE SCRATCH_DIR
set -euo pipefail
dlc=$1 filecheck=$2 test=$3 scratch=$4
if [ ! -x "$filecheck" ]; then
  echo "FileCheck not found at '$filecheck': apt-get install llvm-19-tools" >&2
  exit 1
fi
mkdir -p "$scratch"
mapfile -t runs < <(sed -n 's/^[#/ ]*RUN: *//p' "$test")
if [ "${#runs[@]}" -eq 0 ]; then
  echo "$test has no RUN: line" >&2
  exit 1
fi
for run in "${runs[@]}"; do
  cmd=${run//%dlc/$dlc}
  cmd=${cmd//FileCheck/$filecheck}
  cmd=${cmd//%s/$test}
  cmd=${cmd//%t/$scratch/$(basename "$test" .pbtxt)}
  echo "RUN: $cmd"
  bash -o pipefail -c 'not() { if "$@"; then return 1; fi; }; '"$cmd"
done
