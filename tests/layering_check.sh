#!/usr/bin/env bash
# The IR levels depend one way: runtime -> reference -> kernel -> ir; the
# compiler sits on top. Fails naming the first include that points upward,
# and any symbol libdlrt exports beyond the C API.
# usage: layering_check.sh SOURCE_DIR LIBDLRT_SO
set -euo pipefail
src="$1" lib="$2"
status=0
forbid() {  # forbid DIR PATTERN...: no file under DIR includes "PATTERN..."
  local dir="$1"; shift
  for pattern in "$@"; do
    if grep -rn --include='*.cc' --include='*.h' "#include \"$pattern" "$src/$dir"; then
      echo "layering: $dir/ must not include $pattern headers" >&2
      status=1
    fi
  done
}
forbid ir compiler/ runtime/ kernel/ reference/ frontend/
forbid kernel compiler/ runtime/ reference/ frontend/
forbid reference compiler/ runtime/ frontend/
forbid runtime compiler/ frontend/
exported=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^dlrt_' || true)
if [ -n "$exported" ]; then
  echo "libdlrt exports more than the C API:" >&2
  echo "$exported" | head -20 >&2
  status=1
fi
[ "$(nm -D --defined-only "$lib" | grep -c ' dlrt_')" -gt 0 ] || { echo "libdlrt exports no dlrt_ symbol" >&2; status=1; }
exit $status
