#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/, clang + ASan + UBSan, in
# build-fuzz/) and runs each for SECONDS (default 60) from its seed corpus.
# Fails when any target finds a crash, a leak, undefined behaviour, an
# uncaught exception, a timeout or an out-of-memory; the input that did it is
# kept as build-fuzz/fuzz/crashes/<target>-crash-<hash> (replay it with
# `build-fuzz/fuzz/<target> FILE`).
#
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]    # e.g. scripts/fuzz.sh 300 fuzz_npy
#
# FUZZ_JOBS targets run at once (default: the number of cores). New inputs
# the fuzzer finds go to build-fuzz/fuzz/corpus/<target>/, never into the
# repository's seeds; keep one there by hand when it is worth keeping.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
jobs=${FUZZ_JOBS:-$(nproc)}
build=build-fuzz

# clang-19 (with its sanitizer and libFuzzer runtimes) matches the llvm-19 of
# the main build; the rest are the build's packages, as in scripts/test.sh.
packages="clang-19 libclang-rt-19-dev cmake make llvm-19-dev llvm-19-tools liblld-19-dev libprotobuf-dev \
  protobuf-compiler libopenblas-dev libgtest-dev zlib1g-dev libzstd-dev"
# shellcheck disable=SC2086
if ! dpkg -s $packages >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq $packages >/dev/null
fi

# The fuzz targets need no CUDA, so the build leaves it out wherever it runs.
cmake -S . -B "$build" -DDLC_FUZZ=ON -DDLC_WITH_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 >/dev/null
make -C "$build" -j"$(nproc)" fuzz >/dev/null

if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for src in tests/fuzz/fuzz_*.cc; do targets+=("$(basename "$src" .cc)"); done
fi

out="$build/fuzz"
mkdir -p "$out/crashes" "$out/logs"
# UBSan findings abort (-fno-sanitize-recover); a stack makes them readable.
export UBSAN_OPTIONS=print_stacktrace=1

run_target() {
  local t=$1 dict=()
  mkdir -p "$out/corpus/$t"
  # A target's dictionary (tests/fuzz/<target>.dict) holds the words its format is made of.
  [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
  # The first folder gets the new inputs; the seeds are only read.
  "$out/$t" "$out/corpus/$t" "tests/fuzz/corpus/$t" "${dict[@]}" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -artifact_prefix="$out/crashes/$t-" -print_final_stats=1 >"$out/logs/$t.log" 2>&1
}

failed=()
pids=()
names=()
finish_one() {
  # Waits for the oldest running target and reports it.
  local pid=${pids[0]} t=${names[0]}
  pids=("${pids[@]:1}")
  names=("${names[@]:1}")
  if wait "$pid"; then
    local execs
    execs=$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$out/logs/$t.log" | grep -o '[0-9]*$' || echo '?')
    echo "fuzz: $t ok ($execs inputs in ${seconds}s)"
  else
    echo "fuzz: $t FAILED; log $out/logs/$t.log, input in $out/crashes/:"
    tail -n 40 "$out/logs/$t.log"
    failed+=("$t")
  fi
}
for t in "${targets[@]}"; do
  [ -x "$out/$t" ] || { echo "fuzz: no target $t (tests/fuzz/$t.cc)"; exit 2; }
  while [ ${#pids[@]} -ge "$jobs" ]; do finish_one; done
  run_target "$t" &
  pids+=($!)
  names+=("$t")
done
while [ ${#pids[@]} -gt 0 ]; do finish_one; done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}"
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${seconds}s without a finding"
