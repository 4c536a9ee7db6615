#!/usr/bin/env bash
# Runs weft's workload driver and the peer implementations (Go, Boost.Fiber,
# oneTBB, OpenMP, thread pools, raw Boost.Context) on this machine in one
# session, interleaved, and prints a Markdown table of medians and ratios that
# can be pasted into docs/benchmarks.md as is.
#
#   bench/compare_with_peers.sh [options] PEERS_DIR
#
#   PEERS_DIR           folder with the peers and their run.sh (e.g. /work/shared/peers);
#                       may be read-only: peers are built into <build>/peers
#   --runs N            repetitions per (case, implementation), default 5
#   --build DIR         weft's build folder, default build/release; must contain
#                       bench/weft-workloads
#   --filter REGEX      only cases whose text (e.g. "fib n=30") matches REGEX
#   --peers LIST        only these peer binaries (comma or space separated)
#   --workers N         workers= passed when a case does not set it, default 2
#                       (never passed to yield, which always uses 1 worker)
#   --timeout SEC       kill one run after SEC seconds (counts as a failure), default 300
#   --rebuild           rebuild the peers even when their binaries look up to date
#   --scaling LIST      worker counts for the scaling table, default "1 2 4 8"
#                       ("" leaves the scaling cases out)
#   --user-build DIR    a second weft build folder, measured as one more column
#                       ("weft, no LTO") with its own ratio to the best peer: weft
#                       as a user's add_subdirectory build compiles it, e.g.
#                       cmake --preset release-nolto && cmake --build --preset release-nolto
#
# Each repetition runs every implementation once (round-robin, the starting
# implementation rotating per repetition) before the next repetition starts, so
# machine noise is spread fairly. A peer that exits 3 cannot express the
# workload ("n/a"); any other failure is warned about and shown as "fail".
# Cases that weft's driver does not know yet are skipped (listed in a note).
#
# Output: the Markdown report on stdout (also written to
# <build>/peers-compare/table.md); every raw result line is appended to
# <build>/peers-compare/raw.txt; stderr of the runs goes to
# <build>/peers-compare/stderr.txt; progress goes to stderr.
set -euo pipefail

# ------------------------------------------------------------------ cases
# One entry per table row: "<workload> [key=value ...]" as given to every
# implementation. workers=<--workers> is appended unless the entry sets
# workers= itself or the workload is yield. Edit freely.
CASES=(
  "skynet"
  "fib n=25"
  "fib n=30"
  "yield"
  "nqueens n=11"
  "nqueens n=13 cutoff=3"
  "sleep"
  "parked"
)

# Workloads measured at every count of --scaling (their rows replace the
# default-worker rows), and shown once more side by side in the scaling
# table: how each implementation's figure moves from 1 worker to 2 and 8.
# The communication workloads, and the fork-join ones whose 2-worker time
# should be well under their 1-worker time.
SCALING_WORKLOADS=("pingpong" "mutex" "fanout" "skynet_chan" "pool" "skynet" "fib n=30" "nqueens n=11")
SCALING="1 2 4 8"

# Extra arguments for one implementation on one workload: ["<impl>|<workload>"].
declare -A EXTRA_ARGS=(
  # one 1,000,000-round pass with mutex+condvar threads takes ~45 s; value stays per round trip
  ["std_thread|pingpong"]="rounds=100000"
)

# Cells shown but never chosen as "best peer": ["<impl>|<workload>"]=reason.
declare -A NOT_COMPARABLE=(
  ["omp|pool"]="libgomp runs a task inline on the submitter once 64 x threads are queued"
  ["fcontext|yield"]="a bare stack switch with no scheduler: the floor, not a peer"
  ["context_fiber|yield"]="a bare stack switch with no scheduler: the floor, not a peer"
)

# Peer binaries built by PEERS_DIR/run.sh, in column order.
PEERS=(go_peer boostfiber tbb omp naive_pool asio_pool std_thread fcontext context_fiber)

# ------------------------------------------------------------------ arguments
ORIG_ARGS=("$@")
RUNS=5
BUILD=""
FILTER=""
WORKERS=2
TIMEOUT=300
REBUILD=""
PEER_LIST=""
PEERS_DIR=""
USER_BUILD=""

usage() {
  sed -n '/^#   bench/,/^#   --user-build/p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-2}"
}
die() { echo "compare_with_peers: $*" >&2; exit 2; }
warn() { echo "compare_with_peers: warning: $*" >&2; }

while (($#)); do
  case "$1" in
    --runs) RUNS=${2:?--runs needs a value}; shift 2 ;;
    --runs=*) RUNS=${1#*=}; shift ;;
    --build) BUILD=${2:?--build needs a value}; shift 2 ;;
    --build=*) BUILD=${1#*=}; shift ;;
    --filter) FILTER=${2?--filter needs a value}; shift 2 ;;
    --filter=*) FILTER=${1#*=}; shift ;;
    --peers) PEER_LIST=${2?--peers needs a value}; shift 2 ;;
    --peers=*) PEER_LIST=${1#*=}; shift ;;
    --workers) WORKERS=${2:?--workers needs a value}; shift 2 ;;
    --workers=*) WORKERS=${1#*=}; shift ;;
    --timeout) TIMEOUT=${2:?--timeout needs a value}; shift 2 ;;
    --timeout=*) TIMEOUT=${1#*=}; shift ;;
    --rebuild) REBUILD=1; shift ;;
    --scaling) SCALING=${2?--scaling needs a value}; shift 2 ;;
    --scaling=*) SCALING=${1#*=}; shift ;;
    --user-build) USER_BUILD=${2:?--user-build needs a value}; shift 2 ;;
    --user-build=*) USER_BUILD=${1#*=}; shift ;;
    -h | --help) usage 0 ;;
    --) shift; break ;;
    -*) echo "unknown option: $1" >&2; usage 2 ;;
    *)
      [[ -z "$PEERS_DIR" ]] || die "more than one PEERS_DIR given ('$PEERS_DIR', '$1')"
      PEERS_DIR=$1; shift ;;
  esac
done
if (($#)); then
  [[ -z "$PEERS_DIR" && $# -eq 1 ]] || die "unexpected arguments: $*"
  PEERS_DIR=$1
fi
[[ -n "$PEERS_DIR" ]] || { echo "missing PEERS_DIR" >&2; usage 2; }
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer, got '$RUNS'"
[[ "$WORKERS" =~ ^[1-9][0-9]*$ ]] || die "--workers must be a positive integer, got '$WORKERS'"
[[ "$TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "--timeout must be a positive integer, got '$TIMEOUT'"
if [[ -n "$FILTER" ]]; then
  # validate the regex once ([[ =~ ]] returns 2 on a bad pattern)
  rc=0; [[ "" =~ $FILTER ]] || rc=$?
  ((rc != 2)) || die "bad --filter regex '$FILTER'"
fi

[[ -d "$PEERS_DIR" ]] || die "PEERS_DIR '$PEERS_DIR' is not a folder"
[[ -f "$PEERS_DIR/run.sh" ]] || die "no run.sh in PEERS_DIR '$PEERS_DIR'"
PEERS_DIR=$(realpath "$PEERS_DIR")

# default: build/release of the repository this script is in
[[ -n "$BUILD" ]] || BUILD="$(dirname "$0")/../build/release"
DRIVER="$BUILD/bench/weft-workloads"
if [[ ! -x "$DRIVER" ]]; then
  {
    echo "compare_with_peers: $DRIVER not found (or not executable)."
    echo "Build weft's workload driver first, from the repository root:"
    echo "  cmake --preset release && cmake --build --preset release --target weft-workloads"
    echo "(or pass --build DIR for another build folder)"
  } >&2
  exit 2
fi
BUILD=$(realpath "$BUILD")
DRIVER="$BUILD/bench/weft-workloads"
USER_DRIVER=""
WEFTS=(weft)
if [[ -n "$USER_BUILD" ]]; then
  USER_DRIVER="$(realpath "$USER_BUILD")/bench/weft-workloads"
  [[ -x "$USER_DRIVER" ]] || die "--user-build: $USER_DRIVER not found (cmake --build --preset release-nolto)"
  WEFTS+=(weft_user)
fi

if [[ -n "$PEER_LIST" ]]; then
  read -r -a wanted <<<"${PEER_LIST//,/ }"
  for p in "${wanted[@]}"; do
    found=""
    for q in "${PEERS[@]}"; do
      if [[ "$p" == "$q" ]]; then found=1; fi
    done
    [[ -n "$found" ]] || die "unknown peer '$p' (known: ${PEERS[*]})"
  done
  PEERS=("${wanted[@]}")
fi

command -v timeout >/dev/null || die "'timeout' (coreutils) is required"

OUT="$BUILD/peers-compare"
PB="$BUILD/peers"
mkdir -p "$OUT" "$PB"
RAW="$OUT/raw.txt"
ERRLOG="$OUT/stderr.txt"
TABLE="$OUT/table.md"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# ------------------------------------------------------------------ select cases
read -r -a SCALING_COUNTS <<<"${SCALING//,/ }"
for n in "${SCALING_COUNTS[@]}"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "--scaling takes worker counts, got '$n'"
done
if ((${#SCALING_COUNTS[@]})); then
  for w in "${SCALING_WORKLOADS[@]}"; do
    kept=()
    for c in "${CASES[@]}"; do [[ "$c" == "$w" ]] || kept+=("$c"); done
    CASES=("${kept[@]}")
    for n in "${SCALING_COUNTS[@]}"; do CASES+=("$w workers=$n"); done
  done
fi
SEL=()
for c in "${CASES[@]}"; do
  if [[ -z "$FILTER" || "$c" =~ $FILTER ]]; then SEL+=("$c"); fi
done
((${#SEL[@]})) || die "no case matches --filter '$FILTER' (cases: $(printf '"%s" ' "${CASES[@]}"))"

# ------------------------------------------------------------------ build peers
peers_stale() {
  [[ -n "$REBUILD" ]] && return 0
  local p
  for p in "${PEERS[@]}"; do
    [[ -x "$PB/$p" ]] || return 0
    # any peer source (or run.sh) newer than this binary?
    [[ -z "$(find "$PEERS_DIR" -path "$PEERS_DIR/build" -prune -o -type f -newer "$PB/$p" -print -quit)" ]] || return 0
  done
  return 1
}
if peers_stale; then
  echo "building peers into $PB/ with $PEERS_DIR/run.sh (BUILD_ONLY=1) ..." >&2
  if ! BUILD_ONLY=1 PEERS_BUILD="$PB" bash "$PEERS_DIR/run.sh" >&2; then
    warn "peer build failed; peers without a binary are left out"
  fi
fi
AVAIL=()
for p in "${PEERS[@]}"; do
  if [[ -x "$PB/$p" ]]; then AVAIL+=("$p"); else warn "no peer binary $PB/$p; left out"; fi
done

# ------------------------------------------------------------------ helpers
label() { # column name of an implementation
  case "$1" in go_peer) echo go ;; weft_user) echo "weft, no LTO" ;; *) echo "$1" ;; esac
}
binary() {
  case "$1" in weft) echo "$DRIVER" ;; weft_user) echo "$USER_DRIVER" ;; *) echo "$PB/$1" ;; esac
}
field() { # field KEY LINE
  local re="(^|[[:space:]])$1=([^[:space:]]+)"
  if [[ "$2" =~ $re ]]; then echo "${BASH_REMATCH[2]}"; fi
}
# "median min max" of the numbers given as arguments
stats() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
    END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
          printf "%.17g %.17g %.17g\n", m, v[1], v[NR] }'
}
fmt() {
  awk -v x="$1" 'BEGIN { if (x >= 100000) printf "%.0f", x; else if (x >= 100) printf "%.1f", x; else printf "%.3g", x }'
}
fmt_ratio() {
  awk -v x="$1" 'BEGIN { if (x >= 0.1 && x < 100) printf "%.2f", x; else printf "%.3g", x }'
}
higher_is_better() { # unit
  [[ "$1" =~ (per_s|/s)$ ]]
}

# ------------------------------------------------------------------ run
declare -A VALS=() STATUS=() UNIT=() WORKERS_OF=()
SKIPPED=()
shell_quote() { # like printf %q, but with readable single quotes
  local a out=""
  for a in "$@"; do
    if [[ "$a" =~ ^[A-Za-z0-9_./=:,+@%-]+$ ]]; then out+=" $a"; else out+=" '${a//\'/\'\\\'\'}'"; fi
  done
  echo "${out# }"
}
CMDLINE=$(shell_quote "$0" "${ORIG_ARGS[@]}")
{
  echo "# session $(date -Iseconds) nproc=$(nproc) command: $CMDLINE"
} >>"$RAW"

IMPLS=("${WEFTS[@]}" "${AVAIL[@]}")
NI=${#IMPLS[@]}
ci=0
for c in "${SEL[@]}"; do
  ci=$((ci + 1))
  read -r -a cargs <<<"$c"
  wl=${cargs[0]}
  if [[ "$wl" != yield && " $c " != *" workers="* ]]; then cargs+=("workers=$WORKERS"); fi
  for i in "${IMPLS[@]}"; do STATUS["$c|$i"]=pending; VALS["$c|$i"]=""; done
  skip=""
  for ((r = 1; r <= RUNS && !skip; r++)); do
    for ((k = 0; k < NI; k++)); do
      i=${IMPLS[$(((k + r - 1) % NI))]}
      [[ "${STATUS["$c|$i"]}" == pending || "${STATUS["$c|$i"]}" == ok ]] || continue
      args=("${cargs[@]}")
      if [[ -n "${EXTRA_ARGS["$i|$wl"]:-}" ]]; then
        read -r -a extra <<<"${EXTRA_ARGS["$i|$wl"]}"
        args+=("${extra[@]}")
      fi
      printf '[%d/%d %s] run %d/%d %-13s ' "$ci" "${#SEL[@]}" "$c" "$r" "$RUNS" "$(label "$i")" >&2
      rc=0
      out=$(timeout -k 10 "$TIMEOUT" "$(binary "$i")" "${args[@]}" 2>"$TMP/err") || rc=$?
      { [[ -s "$TMP/err" ]] && sed "s|^|[$i ${args[*]}] |" "$TMP/err"; } >>"$ERRLOG" || true
      line=$(grep -E '^workload=' <<<"$out" | tail -n 1 || true)
      value=$(field value "$line")
      if ((rc == 0)) && [[ "$value" =~ ^[0-9.eE+-]+$ ]]; then
        echo "$line" >>"$RAW"
        VALS["$c|$i"]+="$value "
        STATUS["$c|$i"]=ok
        UNIT["$c|$i"]=$(field unit "$line")
        WORKERS_OF["$c|$i"]=$(field workers "$line")
        echo "$value $(field unit "$line")" >&2
      elif ((rc == 3)) || { [[ "$i" == weft* ]] && grep -q 'unknown workload' "$TMP/err"; }; then
        STATUS["$c|$i"]=na
        echo "n/a" >&2
        echo "# n/a: $i ${args[*]}" >>"$RAW"
        if [[ "$i" == weft ]]; then
          # weft's driver does not have this workload (yet): skip the whole case
          skip=1
          SKIPPED+=("$c")
          echo "   weft-workloads has no '$wl' yet; skipping this case" >&2
          break
        fi
      else
        STATUS["$c|$i"]=fail
        why="exit status $rc"
        ((rc == 124 || rc == 137)) && why="timed out after ${TIMEOUT}s"
        ((rc == 0)) && why="no value in output '$out'"
        echo "FAIL" >&2
        warn "$(binary "$i") ${args[*]}: $why; stderr: $(tail -n 3 "$TMP/err" | tr '\n' ' ')"
        echo "# FAIL ($why): $i ${args[*]}" >>"$RAW"
      fi
    done
  done
done

# ------------------------------------------------------------------ report
ROWS=()
for c in "${SEL[@]}"; do
  if [[ "${STATUS["$c|weft"]}" != na ]]; then ROWS+=("$c"); fi
done

# peer columns: only those that are not n/a everywhere
COLS=()
for p in "${AVAIL[@]}"; do
  keep=""
  for c in "${ROWS[@]}"; do
    if [[ "${STATUS["$c|$p"]}" != na ]]; then keep=1; fi
  done
  if [[ -n "$keep" ]]; then COLS+=("$p"); fi
done

declare -A MED=() MIN=() MAX=()
for c in "${ROWS[@]}"; do
  for i in "${WEFTS[@]}" "${COLS[@]}"; do
    [[ -n "${VALS["$c|$i"]}" ]] || continue
    read -r -a v <<<"${VALS["$c|$i"]}"
    read -r MED["$c|$i"] MIN["$c|$i"] MAX["$c|$i"] < <(stats "${v[@]}")
  done
done

cell() { # c impl
  local s=${STATUS["$1|$2"]}
  case "$s" in
    ok) fmt "${MED["$1|$2"]}" ;;
    na) echo "n/a" ;;
    fail) echo "fail" ;;
    *) echo "—" ;;
  esac
}

# The scaling table: each scaling workload per implementation, its medians
# at every worker count side by side, then the 2-worker figure over the
# 1-worker one and the largest count's over the 2-worker one.
scaling_table() {
  ((${#SCALING_COUNTS[@]} > 1)) || return 0
  local first=${SCALING_COUNTS[0]} last=${SCALING_COUNTS[-1]} second=${SCALING_COUNTS[1]}
  echo
  echo "Scaling: the same cases by worker count (median; ratios of medians, so for ms and"
  echo "ns_per_op above 1 means slower, for ops_per_s below 1 means slower)."
  echo
  local hdr="| workload | impl | unit |" sep="|---|---|---|" n
  for n in "${SCALING_COUNTS[@]}"; do hdr+=" ${n}w |"; sep+="---:|"; done
  hdr+=" ${second}w ÷ ${first}w | ${last}w ÷ ${second}w |"
  sep+="---:|---:|"
  echo "$hdr"
  echo "$sep"
  local w i row unit ok a b c
  for w in "${SCALING_WORKLOADS[@]}"; do
    for i in "${WEFTS[@]}" "${COLS[@]}"; do
      row="| \`$w\` | $(label "$i") |" unit="" ok=""
      for n in "${SCALING_COUNTS[@]}"; do
        c="$w workers=$n"
        [[ "${STATUS["$c|$i"]:-}" == ok ]] && { ok=1; unit=${UNIT["$c|$i"]}; }
      done
      [[ -n "$ok" ]] || continue
      row+=" $unit |"
      for n in "${SCALING_COUNTS[@]}"; do row+=" $(cell "$w workers=$n" "$i") |"; done
      for pair in "$first $second" "$second $last"; do
        read -r a b <<<"$pair"
        if [[ "${STATUS["$w workers=$a|$i"]:-}" == ok && "${STATUS["$w workers=$b|$i"]:-}" == ok ]]; then
          row+=" $(fmt_ratio "$(awk -v x="${MED["$w workers=$b|$i"]}" -v y="${MED["$w workers=$a|$i"]}" \
            'BEGIN { printf "%.17g", (y == 0) ? 0 : x / y }')") |"
        else
          row+=" — |"
        fi
      done
      echo "$row"
    done
  done
}

report() {
  local cpu
  cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
  [[ -n "$cpu" ]] || cpu=$(uname -m)
  local rev
  rev=$(git -C "$(dirname "$0")" describe --always --dirty 2>/dev/null || echo unknown)
  echo "Measured $(date '+%Y-%m-%d %H:%M %Z') on $(nproc) CPUs ($cpu), weft $rev;" \
    "median of $RUNS interleaved runs per cell; command: \`$CMDLINE\`"
  echo
  local hdr="| workload | workers | unit | weft |" sep="|---|---:|---|---:|"
  local p
  if [[ -n "$USER_DRIVER" ]]; then hdr+=" weft, no LTO ³ |"; sep+="---:|"; fi
  for p in "${COLS[@]}"; do hdr+=" $(label "$p") |"; sep+="---:|"; done
  hdr+=" best peer | weft / best peer ¹ |"
  sep+="---|---:|"
  if [[ -n "$USER_DRIVER" ]]; then hdr+=" no LTO / best peer |"; sep+="---:|"; fi
  echo "$hdr"
  echo "$sep"
  local c i unit workers row best bestv ratio wl star=""
  for c in "${ROWS[@]}"; do
    unit="" workers=""
    for i in weft "${COLS[@]}"; do
      if [[ -z "$unit" && "${STATUS["$c|$i"]}" == ok ]]; then
        unit=${UNIT["$c|$i"]}
        workers=${WORKERS_OF["$c|$i"]}
      fi
    done
    row="| \`$c\` | ${workers:-?} | ${unit:-?} | $(cell "$c" weft) |"
    if [[ -n "$USER_DRIVER" ]]; then row+=" $(cell "$c" weft_user) |"; fi
    best="" bestv=""
    for p in "${COLS[@]}"; do
      local cv
      cv=$(cell "$c" "$p")
      wl=${c%% *}
      if [[ -n "${NOT_COMPARABLE["$p|$wl"]:-}" ]]; then
        cv+=" ²"; star=1
      elif [[ "${STATUS["$c|$p"]}" == ok && "${UNIT["$c|$p"]}" == "$unit" ]]; then
        if [[ -z "$bestv" ]] ||
          { higher_is_better "$unit" && awk -v a="${MED["$c|$p"]}" -v b="$bestv" 'BEGIN { exit !(a > b) }'; } ||
          { ! higher_is_better "$unit" && awk -v a="${MED["$c|$p"]}" -v b="$bestv" 'BEGIN { exit !(a < b) }'; }; then
          best=$p bestv=${MED["$c|$p"]}
        fi
      fi
      row+=" $cv |"
    done
    row+=" $(if [[ -n "$best" ]]; then label "$best"; else echo —; fi) |"
    local w
    for w in "${WEFTS[@]}"; do
      if [[ -n "$best" && "${STATUS["$c|$w"]}" == ok ]]; then
        ratio=$(awk -v a="${MED["$c|$w"]}" -v b="$bestv" 'BEGIN { if (b == 0) print "inf"; else printf "%.17g", a / b }')
        [[ "$ratio" == inf ]] || ratio=$(fmt_ratio "$ratio")
        higher_is_better "$unit" && ratio+=" (higher is better)"
        row+=" $ratio |"
      else
        row+=" — |"
      fi
    done
    echo "$row"
  done
  echo
  echo "¹ weft's median divided by the best peer's median, same session. For time-like units" \
    "(ms, ns_per_op, KiB_per_fiber) smaller is better, so a ratio < 1 means weft is faster;" \
    "for rates (ops_per_s, tasks/s) larger is better, so a ratio > 1 means weft is faster." \
    "n/a: the peer cannot express the workload; fail: a run failed (see stderr)."
  if [[ -n "$star" ]]; then
    local k
    for k in "${!NOT_COMPARABLE[@]}"; do
      if [[ " ${COLS[*]} " == *" ${k%%|*} "* ]]; then
        echo "² Not used as best peer: $(label "${k%%|*}") ${k#*|}: ${NOT_COMPARABLE[$k]}."
      fi
    done
  fi
  if [[ -n "$USER_DRIVER" ]]; then
    echo "³ The same workloads built as a user's project builds weft: \`$USER_BUILD\`" \
      "(Release, WEFT_LTO=OFF, so neither the library nor the driver is link-time optimized)."
  fi
  if ((${#SKIPPED[@]})); then
    local sk
    sk=$(printf "\`%s\`, " "${SKIPPED[@]}")
    echo "Skipped (weft-workloads does not have the workload yet): ${sk%, }."
  fi
  scaling_table
  echo
  echo "<details><summary>median, min and max per implementation</summary>"
  echo
  echo "| workload | impl | workers | unit | median | min | max | runs |"
  echo "|---|---|---:|---|---:|---:|---:|---:|"
  for c in "${ROWS[@]}"; do
    for i in "${WEFTS[@]}" "${COLS[@]}"; do
      local n=0
      if [[ -n "${VALS["$c|$i"]}" ]]; then
        read -r -a v <<<"${VALS["$c|$i"]}"
        n=${#v[@]}
      fi
      case "${STATUS["$c|$i"]}" in
        ok) echo "| \`$c\` | $(label "$i") | ${WORKERS_OF["$c|$i"]} | ${UNIT["$c|$i"]} |" \
          "$(fmt "${MED["$c|$i"]}") | $(fmt "${MIN["$c|$i"]}") | $(fmt "${MAX["$c|$i"]}") | $n/$RUNS |" ;;
        fail) echo "| \`$c\` | $(label "$i") | | | fail | | | $n/$RUNS |" ;;
        *) ;;
      esac
    done
  done
  echo
  echo "</details>"
}

report | tee "$TABLE"
echo "raw lines appended to $RAW; table also in $TABLE" >&2
