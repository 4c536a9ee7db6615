#!/usr/bin/env bash
# weft-load against wrk on one nginx (the `http` workload of the shared
# benchmark list): nginx-light with one worker process on 127.0.0.1, both
# load generators with the same connections and duration and one
# worker/thread each, alternating RUNS times; prints each run's requests/s
# and the ratio of the medians. Also one open-model weft-load run at a fixed
# rate, with its latency percentiles.
#
#   bench/http_vs_wrk.sh [BUILD_DIR]        (default build/release)
#   RUNS=5 CONNECTIONS=64 DURATION=5s RATE=20000 bench/http_vs_wrk.sh
#   PIN=0 bench/http_vs_wrk.sh    (do not pin; by default, with 2 or more
#     CPUs, nginx runs on CPU 0 and the load generators on CPU 1, so that
#     neither competes with the other for a core: on a 2-CPU machine,
#     unpinned figures mostly measure where the scheduler put whom)
#   BASELINE_LOAD=/other/build/tools/weft-load bench/http_vs_wrk.sh
#     (A/B: that weft-load binary runs in every round too, for a change's
#     before/after on the same nginx in the same session)
#   TLS=1 bench/http_vs_wrk.sh    (HTTPS: nginx with a self-signed
#     certificate made here; wrk does not check certificates, so weft-load
#     runs with -k too)
#   THREADS=2 bench/http_vs_wrk.sh  (wrk -t2 and weft-load -w 2; default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
RUNS=${RUNS:-5}
CONNECTIONS=${CONNECTIONS:-64}
DURATION=${DURATION:-5s}
RATE=${RATE:-20000}
PIN=${PIN:-1}
PORT=${PORT:-18080}
TLS=${TLS:-0}
THREADS=${THREADS:-1}
LOAD="$BUILD/tools/weft-load"
[[ -x "$LOAD" ]] || { echo "build weft-load first: cmake --build --preset release --target weft-load" >&2; exit 2; }

for p in nginx-light wrk; do  # any nginx will do (nginx, nginx-light, ...)
  command -v "${p%-light}" >/dev/null 2>&1 || {
    sudo=(); [[ $(id -u) == 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$p" >/dev/null
  }
done

dir=$(mktemp -d)
trap 'nginx -p "$dir" -c nginx.conf -s stop 2>/dev/null || true; rm -rf "$dir"' EXIT
mkdir -p "$dir/logs" "$dir/html"
printf 'ok\n' > "$dir/html/index.html"
chmod -R a+rX "$dir"  # nginx workers run as www-data
scheme=http listen="127.0.0.1:$PORT" tls_conf="" insecure=()
if [[ $TLS == 1 ]]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
  scheme=https listen+=" ssl" insecure=(-k)
  tls_conf="ssl_certificate $dir/cert.pem; ssl_certificate_key $dir/key.pem;"
fi
cat > "$dir/nginx.conf" <<CONF
worker_processes 1;
daemon on;
pid $dir/nginx.pid;
error_log $dir/logs/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen $listen; root $dir/html; $tls_conf }
}
CONF
gen=()  # prefix of the load generators' command lines
if [[ $PIN == 1 ]] && (($(nproc) >= 2)); then
  nginx_pin=(taskset -c 0) gen=(taskset -c 1)
  echo "pinned: nginx on CPU 0, wrk and weft-load on CPU 1"
else
  nginx_pin=()
fi
"${nginx_pin[@]}" nginx -p "$dir" -c nginx.conf
url="$scheme://127.0.0.1:$PORT/index.html"
for ((try = 0; ; ++try)); do  # nginx daemonizes: wait until it answers (at most ~5 s)
  curl -fsk -o /dev/null "$url" && break
  ((try < 50)) || { echo "nginx did not come up; see $dir/logs/error.log" >&2; exit 2; }
  sleep 0.1
done

# requests/s of one closed-model weft-load run with binary $1
weft_load_rps() {
  "${gen[@]}" "$1" "$url" "${insecure[@]}" -c "$CONNECTIONS" -d "$DURATION" -w "$THREADS" --quiet \
    --json - 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["rps"])'
}
weft_rps=() wrk_rps=() base_rps=()
for ((i = 1; i <= RUNS; i++)); do
  w=$("${gen[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "$url" | awk '/Requests\/sec/ {print $2}')
  l=$(weft_load_rps "$LOAD")
  wrk_rps+=("$w") weft_rps+=("$l")
  line="run $i: wrk $w req/s, weft-load $l req/s"
  if [[ -n ${BASELINE_LOAD:-} ]]; then
    b=$(weft_load_rps "$BASELINE_LOAD")
    base_rps+=("$b") line+=", baseline $b req/s"
  fi
  echo "$line"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
mw=$(median "${wrk_rps[@]}") ml=$(median "${weft_rps[@]}")
echo "median: wrk $mw req/s, weft-load $ml req/s, weft-load/wrk $(ratio "$ml" "$mw")"
if [[ -n ${BASELINE_LOAD:-} ]]; then
  mb=$(median "${base_rps[@]}")
  echo "median: baseline $mb req/s, weft-load/baseline $(ratio "$ml" "$mb"), baseline/wrk $(ratio "$mb" "$mw")"
fi
echo "open model, $RATE req/s:"
"${gen[@]}" "$LOAD" "$url" "${insecure[@]}" -c "$CONNECTIONS" -d "$DURATION" -w "$THREADS" -r "$RATE" \
  --quiet 2>&1 | tail -n 20
