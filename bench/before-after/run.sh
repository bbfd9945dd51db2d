#!/usr/bin/env bash
# Two seam binaries, same run, same machine: the proxy route (HttpAction to a local nginx
# upstream, --workers 1) over keep-alive and `Connection: close` (wrk) and HTTP/2 (h2load),
# in interleaved rounds, and `seam check --offline` on generated documents (hyperfine). For
# a change that must not make seam slower.
#
#   apt-get install -y wrk nginx hyperfine nghttp2-client
#   git worktree add /tmp/before <rev> && cargo build --release --target-dir /tmp/before-target \
#       --manifest-path /tmp/before/Cargo.toml
#   cargo build --release
#   bash bench/before-after/run.sh /tmp/before-target/release/seam target/release/seam [DURATION] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
before=$1 after=$2 duration=${3:-5s} rounds=${4:-3}
source bench/lib.sh
needs wrk nginx hyperfine h2load
secs=${duration%s}
up=$(port)
start_upstream "$up"

for round in $(seq "$rounds"); do
    for which in before after; do
        bin=${!which}
        p=$(port)
        proxy_config "$p" "$up" >"$work/seam.yaml"
        RUST_LOG=warn "$bin" run --workers 1 "$work/seam.yaml" & pid=$!; pids+=($pid)
        wait_port "$p"
        wrk -t2 -c64 -d"$duration" --latency "http://127.0.0.1:$p/" >"$work/$which-$round.wrk" 2>&1 || true
        wrk -t2 -c64 -d"$duration" --latency -H "Connection: close" "http://127.0.0.1:$p/" >"$work/$which-$round.close" 2>&1 || true
        h2load -t2 -c64 -m10 -D "$secs" "http://127.0.0.1:$p/" >"$work/$which-$round.h2" 2>&1 || true
        kill $pid; wait $pid 2>/dev/null || true
    done
done

for n in 1000 10000; do python3 bench/check/generate.py "$n" "$work"; done
hyperfine --warmup 3 --min-runs 15 -N --export-json "$work/check.json" \
    -n "before-1000" "$before check --offline $work/seam-1000.yaml" \
    -n "after-1000" "$after check --offline $work/seam-1000.yaml" \
    -n "before-10000" "$before check --offline $work/seam-10000.yaml" \
    -n "after-10000" "$after check --offline $work/seam-10000.yaml" >&2

python3 - "$work" "$rounds" "$duration" <<'PY'
import json, statistics, sys, datetime
sys.path.insert(0, "bench")
from wrk import parse, parse_h2load, machine
work, rounds, duration = sys.argv[1], int(sys.argv[2]), sys.argv[3]
runs = {
    (kind, w): [(parse_h2load if kind == "h2" else parse)(f"{work}/{w}-{r}.{kind}")[0] for r in range(1, rounds + 1)]
    for kind in ("wrk", "close", "h2") for w in ("before", "after")
}
rps = {w: runs[("wrk", w)] for w in ("before", "after")}
print(f"Measured {datetime.date.today()} on {machine()} with `bash bench/before-after/run.sh BEFORE AFTER {duration} {rounds}`.\n")
print("| | before | after | after / before |")
print("|---|---:|---:|---:|")
labels = {"wrk": f"keep-alive (wrk -t2 -c64 -d{duration})", "close": f"`Connection: close` (wrk -t2 -c64 -d{duration})", "h2": f"HTTP/2 h2c (h2load -t2 -c64 -m10 -D {duration})"}
for kind, label in labels.items():
    b, a = statistics.median(runs[(kind, "before")]), statistics.median(runs[(kind, "after")])
    print(f"| proxy route, {label}, req/s, median of {rounds} interleaved rounds, --workers 1 | {b:,.0f} | {a:,.0f} | {a / b:.2f}× |")
r = {x["command"]: x for x in json.load(open(f"{work}/check.json"))["results"]}
for n in (1000, 10000):
    tb, ta = r[f"before-{n}"]["mean"], r[f"after-{n}"]["mean"]
    print(f"| `seam check --offline`, {n:,} routes, ms | {tb * 1e3:.1f} | {ta * 1e3:.1f} | {ta / tb:.2f}× (time) |")
print(f"\nrounds: before {[round(x) for x in rps['before']]}, after {[round(x) for x in rps['after']]}")
PY
