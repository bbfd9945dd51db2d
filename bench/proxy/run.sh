#!/usr/bin/env bash
# Reverse-proxy throughput: wrk through seam's HttpAction, nginx and haproxy to the same
# local nginx upstream, same run; each proxy with one worker (seam: --workers 1, a
# current-thread runtime) and again with its defaults.
#
#   apt-get install -y wrk nginx haproxy
#   bash bench/proxy/run.sh [DURATION]        # writes bench/proxy/results.md and prints it
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-10s}
source bench/lib.sh
needs wrk nginx haproxy
cargo build --release --quiet
up=$(port)
start_upstream "$up"

measure() { # name url
    wrk -t2 -c64 -d"$duration" --latency "$2" >"$work/$1.wrk" 2>&1 || true
}

measure upstream "http://127.0.0.1:$up/"

for mode in one default; do
    # nginx as a reverse proxy
    p=$(port); mkdir -p "$work/nginx-$mode"
    workers=1; [ $mode = default ] && workers=auto
    cat >"$work/nginx-$mode/nginx.conf" <<CONF
worker_processes $workers;
pid $work/nginx-$mode/nginx.pid;
error_log stderr error;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream app { server 127.0.0.1:$up; keepalive 128; }
  server {
    listen 127.0.0.1:$p;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
    nginx -p "$work/nginx-$mode" -c "$work/nginx-$mode/nginx.conf" -g 'daemon off;' & pid=$!; pids+=($pid)
    wait_port "$p"; measure "nginx-$mode" "http://127.0.0.1:$p/"; kill $pid; wait $pid 2>/dev/null || true

    # haproxy
    p=$(port)
    threads=""; [ $mode = one ] && threads="nbthread 1"
    cat >"$work/haproxy-$mode.cfg" <<CONF
global
  $threads
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend f
  bind 127.0.0.1:$p
  default_backend b
backend b
  server s1 127.0.0.1:$up
CONF
    haproxy -f "$work/haproxy-$mode.cfg" & pid=$!; pids+=($pid)
    wait_port "$p"; measure "haproxy-$mode" "http://127.0.0.1:$p/"; kill $pid; wait $pid 2>/dev/null || true

    # seam
    p=$(port)
    proxy_config "$p" "$up" >"$work/seam.yaml"
    flag=""; [ $mode = one ] && flag="--workers 1"
    RUST_LOG=warn target/release/seam run $flag "$work/seam.yaml" & pid=$!; pids+=($pid)
    wait_port "$p"; measure "seam-$mode" "http://127.0.0.1:$p/"; kill $pid; wait $pid 2>/dev/null || true
done

python3 - "$work" "$duration" <<'PY' | tee bench/proxy/results.md
import sys, datetime
sys.path.insert(0, "bench")
from wrk import parse, machine
names = ["upstream"] + [f"{p}-{m}" for m in ("one", "default") for p in ("nginx", "haproxy", "seam")]
runs = {n: parse(f"{sys.argv[1]}/{n}.wrk") for n in names}
print(f"Measured {datetime.date.today()} on {machine()} with `bash bench/proxy/run.sh {sys.argv[2]}` (wrk -t2 -c64 -d{sys.argv[2]}).\n")
print(f"Upstream alone (nginx `return 200`, 1 worker): {runs['upstream'][0]:,.0f} req/s.\n")
print("| proxy | workers | req/s | p50 ms | p99 ms | non-2xx | req/s vs nginx | vs best of nginx/haproxy |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for mode, label in (("one", "1"), ("default", "default")):
    best = max(runs[f"nginx-{mode}"][0], runs[f"haproxy-{mode}"][0])
    for proxy in ("seam", "nginx", "haproxy"):
        rps, p50, p99, errs = runs[f"{proxy}-{mode}"]
        print(f"| {proxy} | {label} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {errs} | {rps / runs[f'nginx-{mode}'][0]:.2f}× | {rps / best:.2f}× |")
PY
