#!/usr/bin/env bash
# Reverse-proxy throughput at equal cores: seam's HttpAction, nginx and haproxy in front of
# the same local nginx upstream, all in one run, in interleaved rounds (each round measures
# every proxy once per scenario), medians reported. Scenarios: keep-alive HTTP/1.1 at 64 and
# 512 connections, `Connection: close` (a new connection per request), HTTP/2 cleartext
# (h2load, prior knowledge); each with 1 worker and with 2 (seam --workers, nginx
# worker_processes, haproxy nbthread).
#
#   apt-get install -y wrk nginx haproxy nghttp2-client
#   bash bench/proxy/run.sh [DURATION] [ROUNDS]   # writes bench/proxy/results.md and prints it
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-5s}
rounds=${2:-3}
source bench/lib.sh
needs wrk nginx haproxy h2load
build_seam
no_compiler_running
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
secs=${duration%s}
up=$(port)
start_upstream "$up"
declare -A h1 h2

for w in 1 2; do
    # nginx and haproxy: HTTP/1.1 on one port, h2c (prior knowledge) on another.
    p=$(port); q=$(port)
    start_nginx_proxy "nginx-$w" "$w" "$p" "$up" "$q"
    h1[nginx-$w]=$p; h2[nginx-$w]=$q
    p=$(port); q=$(port)
    start_haproxy_proxy "haproxy-$w" "$w" "$p" "$up" "$q"
    h1[haproxy-$w]=$p; h2[haproxy-$w]=$q

    # seam: one port, HTTP/1.1 and h2c (prior knowledge) both.
    p=$(port)
    proxy_config "$p" "$up" >"$work/seam-$w.yaml"
    RUST_LOG=warn "$seam" run --workers $w "$work/seam-$w.yaml" & pids+=($!)
    wait_port "$p"; h1[seam-$w]=$p; h2[seam-$w]=$p
done

mkdir -p "$work/out"
for round in $(seq "$rounds"); do
    for w in 1 2; do
        for proxy in seam nginx haproxy; do
            url="http://127.0.0.1:${h1[$proxy-$w]}/"
            wrk -t2 -c64 -d"$duration" --latency "$url" >"$work/out/ka64.$proxy.$w.$round" 2>&1 || true
            wrk -t2 -c512 -d"$duration" --latency "$url" >"$work/out/ka512.$proxy.$w.$round" 2>&1 || true
            wrk -t2 -c64 -d"$duration" --latency -H "Connection: close" "$url" >"$work/out/close.$proxy.$w.$round" 2>&1 || true
            h2load -t2 -c64 -m10 -D "$secs" "http://127.0.0.1:${h2[$proxy-$w]}/" >"$work/out/h2.$proxy.$w.$round" 2>&1 || true
        done
    done
done

python3 - "$work/out" "$duration" "$rounds" <<'PY' | tee bench/proxy/results.md
import sys, datetime, statistics
sys.path.insert(0, "bench")
from wrk import parse, parse_h2load, machine
out, duration, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
print(f"Measured {datetime.date.today()} on {machine()} with `bash bench/proxy/run.sh {duration} {rounds}`: "
      f"medians of {rounds} interleaved rounds of {duration} per scenario and proxy; the load generator, "
      "the upstream (nginx, 1 worker) and the proxy share the machine's cores.\n")
print("| scenario | workers | seam req/s | nginx req/s | haproxy req/s | seam p99 ms | nginx p99 ms | haproxy p99 ms | seam vs best peer |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
labels = {"ka64": "keep-alive, c=64 (wrk)", "ka512": "keep-alive, c=512 (wrk)",
          "close": "`Connection: close`, c=64 (wrk)", "h2": "HTTP/2 h2c, c=64 m=10 (h2load)"}
for scenario, label in labels.items():
    for w in (1, 2):
        row = {}
        for proxy in ("seam", "nginx", "haproxy"):
            runs = []
            for r in range(1, rounds + 1):
                path = f"{out}/{scenario}.{proxy}.{w}.{r}"
                try:
                    runs.append(parse_h2load(path) if scenario == "h2" else parse(path))
                except Exception:
                    pass
            row[proxy] = (statistics.median(x[0] for x in runs), statistics.median(x[2] for x in runs)) if runs else (0.0, float("nan"))
        best = max(row["nginx"][0], row["haproxy"][0]) or 1.0
        p99 = " | ".join("n/a" if scenario == "h2" else f"{row[p][1]:.2f}" for p in ("seam", "nginx", "haproxy"))
        print(f"| {label} | {w} | {row['seam'][0]:,.0f} | {row['nginx'][0]:,.0f} | {row['haproxy'][0]:,.0f} | {p99} | {row['seam'][0] / best:.2f}× |")
PY
