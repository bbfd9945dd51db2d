#!/usr/bin/env bash
# CPU time per proxied request: seam's HttpAction, nginx and haproxy (one worker each) in
# front of the same local nginx upstream, keep-alive at 64 and 512 connections (wrk), in
# interleaved rounds. Each proxy's user and system time (from /proc/PID/stat, its worker
# processes included) over a run, divided by the requests it served: what a request costs
# the proxy itself, apart from the load generator and the upstream on the same cores. Beside
# it, the share of the run the proxy was on a CPU (busy %) and wrk's p99: a proxy that needs
# more CPU per request runs closer to saturation at the same rate, and its queue, so its tail
# latency, grows with that; how often the scheduler took the proxy off a CPU while it had
# work (preempted per 1,000 requests), each time stalling every connection it holds. And what
# each proxy's requests cost the two processes sharing the cores with it: the upstream
# (nginx, one worker) and wrk.
#
#   apt-get install -y wrk nginx haproxy time
#   bash bench/cpu/run.sh [DURATION] [ROUNDS]   # writes bench/cpu/results.md and prints it
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-5s}
rounds=${2:-3}
source bench/lib.sh
needs wrk nginx haproxy /usr/bin/time
build_seam
no_compiler_running
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
up=$(port)
start_upstream "$up"
upstream_pid=${pids[-1]}
declare -A port pid

p=$(port)
start_nginx_proxy nginx 1 "$p" "$up"
pid[nginx]=$started_pid; port[nginx]=$p
p=$(port)
start_haproxy_proxy haproxy 1 "$p" "$up"
pid[haproxy]=$started_pid; port[haproxy]=$p

p=$(port)
proxy_config "$p" "$up" >"$work/seam.yaml"
RUST_LOG=warn "$seam" run --workers 1 "$work/seam.yaml" & pids+=($!)
pid[seam]=$!; port[seam]=$p
for proxy in seam nginx haproxy; do wait_port "${port[$proxy]}"; done

mkdir -p "$work/out"
for round in $(seq "$rounds"); do
    for c in 64 512; do
        for proxy in seam nginx haproxy; do
            before=$(ticks "${pid[$proxy]}") upstream_before=$(ticks "$upstream_pid") switches=$(preempted "${pid[$proxy]}")
            /usr/bin/time -f "%U %S" -o "$work/out/$proxy.$c.$round.wrk-cpu" \
                wrk -t2 -c"$c" -d"$duration" --latency "http://127.0.0.1:${port[$proxy]}/" >"$work/out/$proxy.$c.$round.wrk" 2>&1 || true
            echo "$before $(ticks "${pid[$proxy]}")" >"$work/out/$proxy.$c.$round.ticks"
            echo "$upstream_before $(ticks "$upstream_pid")" >"$work/out/$proxy.$c.$round.upstream-ticks"
            echo "$switches $(preempted "${pid[$proxy]}")" >"$work/out/$proxy.$c.$round.preempted"
        done
    done
done

python3 - "$work/out" "$duration" "$rounds" "$(getconf CLK_TCK)" <<'PY' | tee bench/cpu/results.md
import sys, datetime, statistics
sys.path.insert(0, "bench")
from wrk import parse, machine
out, duration, rounds, hz = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
secs = float(duration.rstrip("s"))
print(f"Measured {datetime.date.today()} on {machine()} with `bash bench/cpu/run.sh {duration} {rounds}` "
      f"(wrk -t2 -d{duration}, keep-alive, one worker each, medians of {rounds} interleaved rounds; "
      "CPU time from /proc/PID/stat divided by the requests served).\n")
print("| connections | proxy | req/s | user µs/request | system µs/request | total µs/request | total vs nginx | busy % | p99 ms | preempted /1k requests | upstream µs/request | wrk µs/request |")
print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for c in (64, 512):
    rows = {}
    for proxy in ("seam", "nginx", "haproxy"):
        rps, user, system, busy, p99, switched, upstream, load = [], [], [], [], [], [], [], []
        for r in range(1, rounds + 1):
            rate, _, tail, _ = parse(f"{out}/{proxy}.{c}.{r}.wrk")
            u0, s0, u1, s1 = map(int, open(f"{out}/{proxy}.{c}.{r}.ticks").read().split())
            served = rate * secs
            rps.append(rate)
            user.append((u1 - u0) / hz / served * 1e6)
            system.append((s1 - s0) / hz / served * 1e6)
            busy.append((u1 - u0 + s1 - s0) / hz / secs * 100)
            p99.append(tail)
            first, last = map(int, open(f"{out}/{proxy}.{c}.{r}.preempted").read().split())
            switched.append((last - first) / served * 1000)
            u0, s0, u1, s1 = map(int, open(f"{out}/{proxy}.{c}.{r}.upstream-ticks").read().split())
            upstream.append((u1 - u0 + s1 - s0) / hz / served * 1e6)
            load.append(sum(map(float, open(f"{out}/{proxy}.{c}.{r}.wrk-cpu").read().split())) / served * 1e6)
        rows[proxy] = [statistics.median(v) for v in (rps, user, system, busy, p99, switched, upstream, load)]
    for proxy, (rate, user, system, busy, p99, switched, upstream, load) in rows.items():
        total = user + system
        base = rows["nginx"][1] + rows["nginx"][2]
        print(f"| {c} | {proxy} | {rate:,.0f} | {user:.1f} | {system:.1f} | {total:.1f} | {total / base:.2f}× | {busy:.0f} | {p99:.2f} | {switched:.0f} | {upstream:.1f} | {load:.1f} |")
PY
