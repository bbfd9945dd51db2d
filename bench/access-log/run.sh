#!/usr/bin/env bash
# The cost of seam's own access log (one line per request on stderr, target `seam::access`,
# on by default): one seam per setting, all running at once, interleaved rounds of wrk
# keep-alive on the proxy route, medians. Settings: off (RUST_LOG=warn), on with stderr to a
# file, on with stderr to a pipe (as under a container runtime or systemd), and the JSON
# format (`--log-format json`) to a pipe.
#
#   apt-get install -y wrk nginx
#   bash bench/access-log/run.sh [DURATION] [ROUNDS]   # writes bench/access-log/results.md and prints it
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-5s}
rounds=${2:-3}
source bench/lib.sh
needs wrk nginx
build_seam
no_compiler_running
up=$(port)
start_upstream "$up"
declare -A port
for setting in off file pipe json; do
    port[$setting]=$(port)
    proxy_config "${port[$setting]}" "$up" >"$work/$setting.yaml"
done
RUST_LOG=warn "$seam" run "$work/off.yaml" & pids+=($!)
RUST_LOG=info "$seam" run "$work/file.yaml" 2>"$work/access.log" & pids+=($!)
# A pipe's reader: `cat`, as fast as the pipe lets it.
(RUST_LOG=info exec "$seam" run "$work/pipe.yaml") 2>&1 | cat >/dev/null & pids+=($!)
(RUST_LOG=info exec "$seam" run --log-format json "$work/json.yaml") 2>&1 | cat >/dev/null & pids+=($!)
for setting in off file pipe json; do wait_port "${port[$setting]}"; done
for round in $(seq "$rounds"); do
    for setting in off file pipe json; do
        wrk -t2 -c64 -d"$duration" --latency "http://127.0.0.1:${port[$setting]}/" >"$work/$setting-$round.wrk"
    done
done
lines=$(grep -c 'seam::access' "$work/access.log" || true)
# The piped instances are children of subshells: stop them by their configs.
pkill -f "$work/pipe.yaml" || true
pkill -f "$work/json.yaml" || true

python3 - "$work" "$duration" "$rounds" "$lines" <<'PY' | tee bench/access-log/results.md
import sys, datetime
sys.path.insert(0, "bench")
from wrk import comparison, machine
work, duration, rounds, lines = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
print(f"Measured {datetime.date.today()} on {machine()} with `bash bench/access-log/run.sh {duration} {rounds}` (wrk -t2 -c64 -d{duration}, keep-alive, median of {rounds} interleaved rounds, seam with its default workers).\n")
print(comparison(work, rounds, [
    ("off", "access log off (`RUST_LOG=warn`)"),
    ("file", "access log on, stderr to a file"),
    ("pipe", "access log on, stderr to a pipe"),
    ("json", "access log on, `--log-format json`, to a pipe"),
], column="seam"))
print(f"\nThe file got {lines:,} access lines.")
PY
