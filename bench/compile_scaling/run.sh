#!/usr/bin/env bash
# Compile cost against graph depth: element-wise chains of 1k, 3k, 10k and
# 20k nodes (gen_chain.py), `dlc compile` for training and inference, target
# cpu and cuda (NVRTC; no GPU needed), each under /usr/bin/time -v. Prints
# one row per length and mode: wall seconds and peak RSS (MiB), or the exit
# status when dlc failed (139 = SIGSEGV).
#
#   bash bench/compile_scaling/run.sh [DLC_BINARY] [LENGTHS...]
#   DLC=build/dlc LENGTHS="1000 3000" bash bench/compile_scaling/run.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dlc=${1:-${DLC:-$root/build/dlc}}
shift || true
lengths=${*:-${LENGTHS:-1000 3000 10000 20000}}
targets=${TARGETS:-cpu cuda}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

printf '%-7s %-6s %-9s %9s %10s\n' nodes target mode wall_s peak_MiB
for n in $lengths; do
  python3 "$here/gen_chain.py" "$n" "$work/chain_$n.pbtxt"
  for target in $targets; do
    for mode in train infer; do
      flags=(--target "$target" --batch 4)
      [ "$mode" = infer ] && flags+=(--no-train)
      /usr/bin/time -v -o "$work/time.txt" "$dlc" compile "$work/chain_$n.pbtxt" -o "$work/out.dlc" "${flags[@]}" \
        >"$work/log.txt" 2>&1
      rc=$?
      wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.txt" |
             awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
      rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$work/time.txt")
      if [ "$rc" -ne 0 ]; then
        sig=$(awk -F': ' '/Command terminated by signal/ {print $2}' "$work/time.txt")
        printf '%-7s %-6s %-9s %9s %10s  FAILED rc=%s%s: %s\n' "$n" "$target" "$mode" "$wall" "$rss" "$rc" \
          "${sig:+ signal $sig}" "$(tail -1 "$work/log.txt")"
      else
        printf '%-7s %-6s %-9s %9.2f %10s\n' "$n" "$target" "$mode" "$wall" "$rss"
      fi
    done
  done
done
