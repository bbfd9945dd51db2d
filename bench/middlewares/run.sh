#!/usr/bin/env bash
# Seam's HTTP middlewares on a proxied route: requestid + cors + helmet + logger (to a file)
# beside the same route without them, same seam process, interleaved rounds, wrk over
# loopback (every request sends an Origin, so CORS does its work); medians.
#
#   apt-get install -y wrk nginx
#   bash bench/middlewares/run.sh [DURATION] [ROUNDS]   # writes bench/middlewares/results.md and prints it
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-5s}
rounds=${2:-3}
source bench/lib.sh
needs wrk nginx
cargo build --release --quiet -p seam
no_compiler_running
up=$(port); gw=$(port)
start_upstream "$up"
cat >"$work/seam.yaml" <<CONF
server:
  address: 127.0.0.1:$gw
  disableStartupMessage: true
middlewares:
  Id: { use: plugins.requestid.middlewares.RequestIdMiddleware }
  Cors: { use: plugins.cors.middlewares.CORSMiddleware, config: { allowOrigins: "https://app.example.com", allowCredentials: true } }
  Helmet: { use: plugins.helmet.middlewares.HelmetMiddleware }
  Log:
    use: plugins.logger.middlewares.LoggerMiddleware
    config: { output: "$work/access.log", format: "\${time} \${status} \${latency} \${method} \${url} \${requestId}\\n" }
actions:
  Up: { use: plugins.httpfw.actions.HttpAction, config: { upstreamEndpoint: "http://127.0.0.1:$up" } }
routes:
  Plain: { gatewayPath: /plain/*, action: Up }
  Full: { gatewayPath: /full/*, middlewares: [Id, Cors, Helmet, Log], action: Up }
CONF
start_seam "$work/seam.yaml" "$gw"
for round in $(seq "$rounds"); do
    for route in plain full; do
        wrk -t2 -c64 -d"$duration" --latency -H "Origin: https://app.example.com" "http://127.0.0.1:$gw/$route/" >"$work/$route-$round.wrk"
    done
done
lines=$(wc -l <"$work/access.log")

python3 - "$work" "$duration" "$rounds" "$lines" <<'PY' | tee bench/middlewares/results.md
import sys, datetime
sys.path.insert(0, "bench")
from wrk import comparison, machine
work, duration, rounds, lines = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
print(f"Measured {datetime.date.today()} on {machine()} with `bash bench/middlewares/run.sh {duration} {rounds}` (wrk -t2 -c64 -d{duration}, median of {rounds} interleaved rounds, seam with its default workers).\n")
print(comparison(work, rounds, [("plain", "HttpAction alone"), ("full", "requestid + cors + helmet + logger (file) + HttpAction")]))
print(f"\nThe access log file got {lines:,} lines.")
PY
