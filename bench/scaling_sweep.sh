#!/usr/bin/env bash
# shellcheck disable=SC2016  # the launchers it writes expand $0 and $@ when they run
# A scaling sweep of weft's workloads beside the peers', from prebuilt
# binaries, on a machine that may have none of the libraries: for a one-shot
# run on a bigger machine (more cores than this one) that cannot install
# packages. Two steps:
#
#   bench/scaling_sweep.sh pack DIR WEFT_BUILD NOLTO_BUILD PEERS_BUILD [EXTRA...]
#       copies weft-workloads from WEFT_BUILD and NOLTO_BUILD (the build
#       folders, e.g. build/release and build/release-nolto) and the peer
#       binaries from PEERS_BUILD (and any EXTRA programs, such as test
#       binaries to run there) into DIR/real, every shared library they
#       load (the C library and its loader too) into DIR/lib, and writes
#       one launcher per binary into DIR/bin that runs it with that loader
#       and those libraries: the run needs nothing from the target machine.
#   bench/scaling_sweep.sh run DIR RUNS "WORKER COUNTS"
#       runs every workload below at each worker count, RUNS times,
#       interleaved (bench/ab_workloads.sh), printing one line per case.
#
#   bench/scaling_sweep.sh pack .sweep build/release build/release-nolto /work/peers-build
#   bench/scaling_sweep.sh run .sweep 5 "1 2 16 8 4"
#
# The worker counts run in the order given, each one all workloads, so that
# a run cut short still has whole rows for the counts that came first.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
usage() { sed -n '3,23p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
(($# >= 1)) || usage

PEERS=(tbb go_peer boostfiber std_thread naive_pool asio_pool)

pack() {
  local dir=$1 weft_build=$2 nolto_build=$3 peers_build=$4
  shift 4
  mkdir -p "$dir/real" "$dir/lib" "$dir/bin"
  cp "$weft_build/bench/weft-workloads" "$dir/real/weft"
  cp "$nolto_build/bench/weft-workloads" "$dir/real/weft_nolto"
  for p in "${PEERS[@]}"; do cp "$peers_build/$p" "$dir/real/$p"; done
  (($#)) && cp "$@" "$dir/real/"
  local bin lib
  for bin in "$dir"/real/*; do
    # ldd lists "name => path (address)" and the loader as "path (address)".
    { ldd "$bin" 2>/dev/null || true; } | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
      while read -r lib; do [[ -e "$dir/lib/${lib##*/}" ]] || cp -L "$lib" "$dir/lib/"; done
  done
  for bin in "$dir"/real/*; do
    local name
    name=$(basename "$bin")
    if ldd "$bin" >/dev/null 2>&1; then
      printf '#!/bin/sh\nd=$(cd "$(dirname "$0")/.." && pwd)\nexec "$d/lib/ld-linux-x86-64.so.2" --library-path "$d/lib" "$d/real/%s" "$@"\n' \
        "$name" >"$dir/bin/$name"
    else  # statically linked (Go)
      printf '#!/bin/sh\nexec "$(cd "$(dirname "$0")/.." && pwd)/real/%s" "$@"\n' "$name" >"$dir/bin/$name"
    fi
    chmod +x "$dir/bin/$name"
  done
  du -sh "$dir"
}

run() {
  local dir=$1 runs=$2 counts=$3 w
  local b="$dir/bin"
  ab() { "$here/ab_workloads.sh" "$runs" "$@"; }
  echo "# $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
  ab "yield" -- "$b/weft" "$b/weft_nolto" "$b/go_peer" "$b/boostfiber"
  for w in $counts; do
    echo "# workers=$w"
    ab "skynet workers=$w" "fib n=30 workers=$w" "nqueens n=11 workers=$w" -- \
      "$b/weft" "$b/weft_nolto" "$b/tbb" "$b/go_peer"
    # Boost.Fiber's pingpong takes seconds from 2 workers on, threads' fanout too.
    ab "pingpong workers=$w" -- "$b/weft" "$b/weft_nolto" "$b/go_peer"
    ab "mutex workers=$w" -- "$b/weft" "$b/go_peer" "$b/boostfiber" "$b/std_thread" "$b/tbb"
    ab "fanout workers=$w" -- "$b/weft" "$b/go_peer" "$b/boostfiber"
    ab "skynet_chan workers=$w" -- "$b/weft"
    ab "pool workers=$w" -- "$b/weft" "$b/tbb" "$b/go_peer" "$b/naive_pool" "$b/asio_pool"
  done
}

case $1 in
  pack) (($# >= 5)) || usage; shift; pack "$@" ;;
  run) (($# == 4)) || usage; run "$2" "$3" "$4" ;;
  *) usage ;;
esac
