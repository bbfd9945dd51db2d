#!/usr/bin/env bash
# The cost of Prometheus metrics: the same proxied route served by a seam with
# `server.metrics` set (scraped every second during its runs) and by one without, same
# upstream, same cores, interleaved rounds, wrk over loopback; medians.
#
#   apt-get install -y wrk nginx curl
#   bash bench/metrics/run.sh [DURATION] [ROUNDS]   # writes bench/metrics/results.md and prints it
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-5s}
rounds=${2:-3}
source bench/lib.sh
needs wrk nginx curl
build_seam
no_compiler_running
up=$(port); off=$(port); on=$(port); scrape=$(port)
start_upstream "$up"
proxy_config "$off" "$up" >"$work/off.yaml"
proxy_config "$on" "$up" | sed "s|  disableStartupMessage: true|  disableStartupMessage: true\n  metrics: { address: \"127.0.0.1:$scrape\" }|" >"$work/on.yaml"
start_seam "$work/off.yaml" "$off"
start_seam "$work/on.yaml" "$on"
for round in $(seq "$rounds"); do
    wrk -t2 -c64 -d"$duration" --latency "http://127.0.0.1:$off/hello" >"$work/off-$round.wrk"
    (while true; do curl -s "http://127.0.0.1:$scrape/metrics" >/dev/null; sleep 1; done) &
    scraper=$!
    wrk -t2 -c64 -d"$duration" --latency "http://127.0.0.1:$on/hello" >"$work/on-$round.wrk"
    kill "$scraper"
done
counted=$(curl -s "http://127.0.0.1:$scrape/metrics" | awk '/^seam_http_requests_total/ { n += $2 } END { print n }')

python3 - "$work" "$duration" "$rounds" "$counted" <<'PY' | tee bench/metrics/results.md
import sys, datetime
sys.path.insert(0, "bench")
from wrk import comparison, machine
work, duration, rounds, counted = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(float(sys.argv[4]))
print(f"Measured {datetime.date.today()} on {machine()} with `bash bench/metrics/run.sh {duration} {rounds}` (wrk -t2 -c64 -d{duration}, median of {rounds} interleaved rounds, seam with its default workers).\n")
print(comparison(work, rounds, [("off", "metrics off"), ("on", "metrics on, scraped every second")], column="seam"))
print(f"\nThe metrics-on seam counted {counted:,} requests in `seam_http_requests_total`.")
PY
