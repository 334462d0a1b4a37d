# Sourced by bench/cpu_mlp/run.sh and bench/cpu_cnn/run.sh: the rounds under
# a competing load, a busy loop pinned to the last core of $CORES (as when
# another process shares the machine) while the frameworks take their turns.
#
# competing_load_rounds N FUNCTION: for r in 1..N, runs `FUNCTION $OUT/quiet$r`
# and right after it `FUNCTION $OUT/load$r` with the busy loop running; the
# loop stops when the round ends or the script exits early. The reports
# compare each loaded round with the quiet one just before it: this host
# has slow phases of minutes that hit every framework, and a loaded round
# against the best quiet round of another minute measured the phase too.
busy_pid=
stop_busy_loop() {
  if [ -n "$busy_pid" ]; then kill "$busy_pid" 2>/dev/null || true; fi
  busy_pid=
}
trap stop_busy_loop EXIT

competing_load_rounds() {
  local n=$1 fn=$2 r core=${CORES##*[-,]}
  for r in $(seq 1 "$n"); do
    mkdir -p "$OUT/quiet$r" "$OUT/load$r"
    say "quiet round $r/$n, paired with the next load round: step and inference timings"
    "$fn" "$OUT/quiet$r"
    taskset -c "$core" sh -c 'while :; do :; done' &
    busy_pid=$!
    say "load round $r/$n (busy loop on core $core): step and inference timings"
    "$fn" "$OUT/load$r"
    stop_busy_loop
  done
}
