#!/usr/bin/env bash
# Times `seam check --offline` on generated documents of 100, 1,000 and 10,000 routes,
# beside `nginx -t` on an nginx config with the same paths, in the same run.
#
#   apt-get install -y hyperfine nginx
#   bash bench/check/run.sh            # writes bench/check/results.md and prints it
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v hyperfine >/dev/null || { echo "needs hyperfine: apt-get install -y hyperfine" >&2; exit 1; }
command -v nginx >/dev/null || { echo "needs nginx: apt-get install -y nginx" >&2; exit 1; }

cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for n in 100 1000 10000; do
    python3 bench/check/generate.py "$n" "$work"
    target/release/seam check --offline "$work/seam-$n.yaml" >/dev/null
    nginx -t -q -p "$work" -c "$work/nginx-$n.conf"
done
hyperfine --warmup 3 --min-runs 15 -N --export-json "$work/results.json" \
    -n "seam-100" "target/release/seam check --offline $work/seam-100.yaml" \
    -n "nginx-100" "nginx -t -q -p $work -c $work/nginx-100.conf" \
    -n "seam-1000" "target/release/seam check --offline $work/seam-1000.yaml" \
    -n "nginx-1000" "nginx -t -q -p $work -c $work/nginx-1000.conf" \
    -n "seam-10000" "target/release/seam check --offline $work/seam-10000.yaml" \
    -n "nginx-10000" "nginx -t -q -p $work -c $work/nginx-10000.conf" >&2
python3 - "$work/results.json" <<'PY' | tee bench/check/results.md
import json, sys, datetime, subprocess
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
print(f"Measured {datetime.date.today()} on {cpu} ({subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores) with `bash bench/check/run.sh`.\n")
print("| routes | seam check --offline | per route | nginx -t (same paths) | seam / nginx |")
print("|---:|---:|---:|---:|---:|")
for n in (100, 1000, 10000):
    s, g = r[f"seam-{n}"], r[f"nginx-{n}"]
    print(f"| {n:,} | {s['mean']*1e3:.1f} ms ± {s['stddev']*1e3:.1f} | {s['mean']*1e6/n:.1f} µs | "
          f"{g['mean']*1e3:.1f} ms ± {g['stddev']*1e3:.1f} | {s['mean']/g['mean']:.2f}× |")
PY
