#!/usr/bin/env bash
# Data-parallel training under mpirun (Open MPI), end to end through dlrun:
#   - N processes at batch B follow the one-process loss curve at batch N x B
#     (float32 tolerance), with 2 processes over shared memory and 3 forced
#     onto TCP (--mca btl tcp,self: the transport between machines), for the
#     MLP and LeNet-5;
#   - two runs with the same process count write bitwise identical checkpoints;
#   - a run resumed from an epoch's checkpoint ends where the whole run does;
#   - a process killed mid-run ends the run with an error in bounded time;
#   - the one-process path needs no MPI: dlrun and libdlrt do not link it,
#     and a run whose MPI engine is hidden still trains;
#   - a model compiled without --data-parallel is refused under mpirun.
# usage: mpi_train_test.sh DLC DLRUN LIBDLRT WORKDIR
set -euo pipefail
DLC=$1 DLRUN=$2 LIBDLRT=$3 WORK=$4
SRC=$(cd "$(dirname "$0")/../.." && pwd)
DATA=/usr/share/datasets/fashion-mnist
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK"
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --bind-to none)
# Open MPI prints a help text when it finds no high-speed network; quiet it.
export OMPI_MCA_btl_base_warn_component_unused=0 OMPI_MCA_rmaps_base_oversubscribe=1
fail() { echo "FAIL: $*" >&2; exit 1; }

MODEL=$SRC/models/mlp_mnist.pbtxt
TRAIN=(--data "$DATA" --limit-train 3072 --limit-test 1000 --seed 7 --lr 0.002)
"$DLC" compile "$MODEL" --batch 32 --data-parallel -o dp32.dlc >/dev/null
"$DLC" compile "$MODEL" --batch 64 --data-parallel -o dp64.dlc >/dev/null
"$DLC" compile "$MODEL" --batch 16 --data-parallel -o dp16.dlc >/dev/null
"$DLC" compile "$MODEL" --batch 48 -o plain48.dlc >/dev/null
"$DLC" compile "$MODEL" --batch 32 -o plain32.dlc >/dev/null
"$DLRUN" info dp32.dlc | grep -q "data-parallel: yes" || fail "dlrun info does not say data-parallel"

# The curves: step losses of N processes against one process at N x B.
# |a - b| <= 1e-4 * max(1, |b|) per step; the sum over the processes runs in
# another order than one GEMM's, so bits differ, not more.
compare_curves() {  # want.csv got.csv what
  python3 - "$1" "$2" "$3" <<'PY'
import csv, sys
want = [float(r["loss"]) for r in csv.DictReader(open(sys.argv[1]))]
got = [float(r["loss"]) for r in csv.DictReader(open(sys.argv[2]))]
assert len(want) == len(got) and len(want) > 0, f"{sys.argv[3]}: {len(got)} steps, want {len(want)}"
worst = max(abs(a - b) / max(1.0, abs(b)) for a, b in zip(got, want))
assert worst <= 1e-4, f"{sys.argv[3]}: loss curve off by {worst:.3g} (relative)"
assert want[-1] < want[0], f"{sys.argv[3]}: the loss did not fall: {want[0]} -> {want[-1]}"
print(f"{sys.argv[3]}: {len(got)} steps, worst relative difference {worst:.2e}")
PY
}

"$DLRUN" train dp64.dlc "${TRAIN[@]}" --epochs 1 --step-log one64.csv >one64.out 2>&1
"${MPIRUN[@]}" -np 2 "$DLRUN" train dp32.dlc "${TRAIN[@]}" --epochs 1 --step-log two32.csv \
  --checkpoint two_a.safetensors >two.out 2>&1 || { cat two.out; fail "2 processes did not train"; }
compare_curves one64.csv two32.csv "2 processes x 32 vs 1 x 64"
grep -q "test accuracy" two.out || fail "process 0 printed no result"
[ "$(grep -c "^test accuracy" two.out)" = 1 ] || fail "more than one process printed the result"

"$DLRUN" train plain48.dlc "${TRAIN[@]}" --epochs 1 --step-log one48.csv >one48.out 2>&1
"${MPIRUN[@]}" -np 3 --mca btl tcp,self "$DLRUN" train dp16.dlc "${TRAIN[@]}" --epochs 1 --step-log three16.csv \
  >three.out 2>&1 || { cat three.out; fail "3 processes over TCP did not train"; }
compare_curves one48.csv three16.csv "3 processes x 16 over TCP vs 1 x 48"

# LeNet-5: convolutions (window kernels, GEMMs) through the same bucket.
"$DLC" compile "$SRC/models/lenet5.pbtxt" --batch 32 --data-parallel -o lenet_dp32.dlc >/dev/null
"$DLC" compile "$SRC/models/lenet5.pbtxt" --batch 64 -o lenet64.dlc >/dev/null
LENET=(--data "$DATA" --limit-train 1024 --limit-test 500 --seed 3 --epochs 1)
"$DLRUN" train lenet64.dlc "${LENET[@]}" --step-log lenet_one64.csv >/dev/null 2>&1
"${MPIRUN[@]}" -np 2 "$DLRUN" train lenet_dp32.dlc "${LENET[@]}" --step-log lenet_two32.csv >lenet.out 2>&1 ||
  { cat lenet.out; fail "LeNet-5 in 2 processes did not train"; }
compare_curves lenet_one64.csv lenet_two32.csv "LeNet-5: 2 processes x 32 vs 1 x 64"

# --verify-fusion under mpirun: the reference interpreter averages too.
"${MPIRUN[@]}" -np 2 "$DLRUN" train dp32.dlc "${TRAIN[@]}" --epochs 1 --limit-train 640 --verify-fusion \
  >verify.out 2>&1 || { cat verify.out; fail "--verify-fusion failed under mpirun"; }
grep -q "train_step: .* values match the reference interpreter" verify.out || { cat verify.out; fail "no fusion report"; }

# Reruns repeat every bit.
"${MPIRUN[@]}" -np 2 "$DLRUN" train dp32.dlc "${TRAIN[@]}" --epochs 1 --checkpoint two_b.safetensors >/dev/null 2>&1
cmp -s two_a.safetensors two_b.safetensors || fail "two runs with 2 processes wrote different checkpoints"
echo "reruns: identical checkpoints"

# Resume: 2 epochs in one go against 1 epoch, then a resumed second.
"${MPIRUN[@]}" -np 2 "$DLRUN" train dp32.dlc "${TRAIN[@]}" --epochs 2 --checkpoint whole.safetensors >/dev/null 2>&1
cp two_a.safetensors resumed.safetensors
"${MPIRUN[@]}" -np 2 "$DLRUN" train dp32.dlc "${TRAIN[@]}" --epochs 2 --resume resumed.safetensors \
  --checkpoint resumed.safetensors >resume.out 2>&1 || { cat resume.out; fail "the resumed run failed"; }
cmp -s whole.safetensors resumed.safetensors || fail "the resumed run ended elsewhere than the whole run"
echo "resume: identical to the uninterrupted run"

# A process that dies or stops answering mid-run: the run ends with an error
# in bounded time, every process gone. Killed: mpirun notices. Stopped
# (SIGSTOP: a hung machine, a cut network): MPI would wait for ever; the
# collective's deadline (DLRT_COLLECTIVE_TIMEOUT) ends it.
LONG=(dlrun train dp32.dlc --data "$DATA" --epochs 50)
start_long_run() {  # log: starts the run, sets $launcher and $victim (process 1's pid)
  DLRT_COLLECTIVE_TIMEOUT=5 "${MPIRUN[@]}" -np 2 -x DLRT_COLLECTIVE_TIMEOUT "$DLRUN" train dp32.dlc --data "$DATA" \
    --epochs 50 >"$1" 2>&1 &
  launcher=$!
  victim=""
  for _ in $(seq 100); do
    for pid in $(pgrep -f "${LONG[*]}" || true); do
      if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1"; then victim=$pid; fi
    done
    [ -n "$victim" ] && break
    sleep 0.1
  done
  [ -n "$victim" ] || { kill "$launcher" || true; fail "did not find process 1"; }
  sleep 1
}
expect_run_ends() {  # what: waits up to 60 s for the launcher; it must fail and leave no process
  local start=$SECONDS status=0
  for _ in $(seq 600); do kill -0 "$launcher" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$launcher" 2>/dev/null; then
    kill -9 "$launcher" "$victim" 2>/dev/null || true
    fail "$1: the run went on 60 s later"
  fi
  wait "$launcher" || status=$?
  [ "$status" != 0 ] || fail "$1: the run exited 0"
  sleep 0.5
  if pgrep -f "${LONG[*]}" >/dev/null; then pkill -9 -f "${LONG[*]}"; fail "$1: processes outlived the run"; fi
  echo "$1: the run ended with status $status after $((SECONDS - start)) s"
}
start_long_run killed.out
kill -9 "$victim"
expect_run_ends "a killed process"
start_long_run stopped.out
kill -STOP "$victim"
expect_run_ends "a stopped process"
grep -q "no answer from the other processes within 5 s" stopped.out || { cat stopped.out; fail "no timeout error"; }

# No MPI for one process: nothing links it, and a hidden engine is not missed.
for f in "$DLRUN" "$LIBDLRT"; do
  if readelf -d "$f" | grep -E "NEEDED.*(libmpi|libnccl)"; then fail "$f links MPI or NCCL"; fi
done
DLRT_MPI_ENGINE=/nonexistent/libdlrt_mpi.so "$DLRUN" train dp32.dlc "${TRAIN[@]}" --epochs 1 >alone.out 2>&1 ||
  { cat alone.out; fail "one process without the MPI engine did not train"; }
# ... and one of several without it says why.
if OMPI_COMM_WORLD_SIZE=2 DLRT_MPI_ENGINE=/nonexistent/libdlrt_mpi.so "$DLRUN" train dp32.dlc "${TRAIN[@]}" \
  --epochs 1 >noengine.out 2>&1; then fail "ran as one of 2 processes without an engine"; fi
grep -q "MPI engine cannot be loaded" noengine.out || { cat noengine.out; fail "no clear error without the engine"; }

# The cuda path: it compiles here (NVRTC, no GPU needed); with two GPUs the
# processes train one GPU each, their bucket through the NCCL engine, and
# follow the one-process curve like the cpu runs.
if "$DLC" compile "$MODEL" --target cuda --batch 32 --data-parallel -o cuda_dp32.dlc >cuda.out 2>&1; then
  gpus=$( (nvidia-smi -L 2>/dev/null || true) | grep -c '^GPU' || true)
  if [ "${gpus:-0}" -ge 2 ]; then
    "$DLC" compile "$MODEL" --target cuda --batch 64 --data-parallel -o cuda_dp64.dlc >/dev/null
    "$DLRUN" train cuda_dp64.dlc "${TRAIN[@]}" --epochs 1 --step-log cuda_one64.csv >/dev/null 2>&1
    "${MPIRUN[@]}" -np 2 "$DLRUN" train cuda_dp32.dlc "${TRAIN[@]}" --epochs 1 --step-log cuda_two32.csv \
      >cuda_two.out 2>&1 || { cat cuda_two.out; fail "2 processes on 2 GPUs did not train"; }
    grep -q "host memory and MPI instead" cuda_two.out && { cat cuda_two.out; fail "the NCCL engine did not load"; }
    compare_curves cuda_one64.csv cuda_two32.csv "cuda: 2 processes x 32 (NCCL) vs 1 x 64"
  else
    echo "SKIP: cuda data-parallel training needs 2 GPUs (this machine has ${gpus:-0}); the cuda executable compiled"
  fi
elif grep -q "no cuda target" cuda.out; then
  echo "SKIP: this build has no cuda target"
else
  cat cuda.out; fail "the cuda data-parallel executable did not compile"
fi

# An ordinary executable under mpirun would train N separate models.
if "${MPIRUN[@]}" -np 2 "$DLRUN" train plain32.dlc "${TRAIN[@]}" --epochs 1 >plain.out 2>&1; then
  fail "an executable without --data-parallel trained under mpirun"
fi
grep -q "compiled without --data-parallel" plain.out || { cat plain.out; fail "no clear error for a plain executable"; }
echo "PASS"
