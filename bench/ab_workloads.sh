#!/usr/bin/env bash
# Interleaved A/B of weft-workloads binaries (e.g. the driver built at two
# commits): every case runs once with each binary, RUNS times over, and the
# median per binary is printed, one line per case, with the lowest and the
# highest run in brackets (from 3 runs on: on a shared, noisy machine the
# lowest time is often the steadier estimate of the work itself).
#
#   bench/ab_workloads.sh RUNS "<workload> [key=value ...]" ... -- BINARY...
#
#   bench/ab_workloads.sh 5 "fanout workers=2" "pingpong workers=1" -- /tmp/before ./build/release/bench/weft-workloads
#
# A run that fails or prints no value counts as "nan" (and sorts last);
# so does one that runs longer than $AB_TIMEOUT seconds (default 300).
set -euo pipefail
usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
(($# >= 4)) || usage
runs=$1
shift
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "ab_workloads: RUNS must be a positive integer" >&2; exit 2; }
cases=()
while (($#)) && [[ "$1" != -- ]]; do cases+=("$1"); shift; done
(($#)) || usage
shift
bins=("$@")
((${#cases[@]} && ${#bins[@]})) || usage
for b in "${bins[@]}"; do [[ -x "$b" ]] || { echo "ab_workloads: $b is not executable" >&2; exit 2; }; done
for c in "${cases[@]}"; do
  read -r -a args <<<"$c"
  declare -A vals=()
  for ((r = 0; r < runs; r++)); do
    for b in "${bins[@]}"; do
      v=$(timeout "${AB_TIMEOUT:-300}" "$b" "${args[@]}" 2>/dev/null | sed -n 's/.*value=\([0-9.e+-]*\).*/\1/p' || true)
      vals[$b]+="${v:-nan} "
    done
  done
  line=$(printf '%-32s' "$c")
  for b in "${bins[@]}"; do
    # shellcheck disable=SC2086  # word splitting of the value list is wanted
    # sort -g puts "nan" first; the awk moves failed runs to the end instead.
    m=$(printf '%s\n' ${vals[$b]} | sort -g | awk '
      /nan/ { failed++; next }
      { a[++n] = $1 }
      END {
        runs = n + failed
        mid = int((runs + 1) / 2)
        printf "%s", mid <= n ? a[mid] : "nan"
        if (runs > 2 && n > 0) printf " [%s..%s]", a[1], a[n]
        if (failed) printf " (%d failed)", failed
      }')
    line+="  $(basename "$b")=$m"
  done
  echo "$line"
  unset vals
done
