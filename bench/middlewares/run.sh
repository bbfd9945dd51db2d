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
build_seam
no_compiler_running
up=$(port); gw=$(port); same=$(port)
start_upstream "$up"
# The control: an upstream that itself answers with the 16 headers the four middlewares add
# (same names, same lengths), so the plain route to it carries the same bytes as the full
# route without running any middleware. It separates what the middlewares' code costs from
# what the bigger answer costs seam, the kernel and wrk.
start_nginx same "$same" '    location = / {
      add_header x-xss-protection 0;
      add_header x-content-type-options nosniff;
      add_header x-frame-options SAMEORIGIN;
      add_header cross-origin-embedder-policy require-corp;
      add_header cross-origin-opener-policy same-origin;
      add_header cross-origin-resource-policy same-origin;
      add_header origin-agent-cluster "?1";
      add_header referrer-policy no-referrer;
      add_header x-dns-prefetch-control off;
      add_header x-download-options noopen;
      add_header x-permitted-cross-domain-policies none;
      add_header vary Origin;
      add_header access-control-allow-origin https://app.example.com;
      add_header access-control-allow-credentials true;
      add_header x-request-id 00000000-0000-4000-8000-000000000000;
      return 200 "hello from the upstream\n";
    }'
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
  SameHeaders: { use: plugins.httpfw.actions.HttpAction, config: { upstreamEndpoint: "http://127.0.0.1:$same" } }
routes:
  Plain: { gatewayPath: /plain/*, action: Up }
  Full: { gatewayPath: /full/*, middlewares: [Id, Cors, Helmet, Log], action: Up }
  Headers: { gatewayPath: /headers/*, action: SameHeaders }
CONF
start_seam "$work/seam.yaml" "$gw"
for round in $(seq "$rounds"); do
    for route in plain full headers; do
        wrk -t2 -c64 -d"$duration" --latency -H "Origin: https://app.example.com" "http://127.0.0.1:$gw/$route/" >"$work/$route-$round.wrk"
    done
done
lines=$(wc -l <"$work/access.log")

python3 - "$work" "$duration" "$rounds" "$lines" <<'PY' | tee bench/middlewares/results.md
import sys, datetime
sys.path.insert(0, "bench")
from wrk import comparison, machine, median_run
work, duration, rounds, lines = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
print(f"Measured {datetime.date.today()} on {machine()} with `bash bench/middlewares/run.sh {duration} {rounds}` (wrk -t2 -c64 -d{duration}, median of {rounds} interleaved rounds, seam with its default workers).\n")
print(comparison(work, rounds, [("plain", "HttpAction alone"), ("full", "requestid + cors + helmet + logger (file) + HttpAction"), ("headers", "control: HttpAction alone, the upstream sending the same 16 headers")]))
full, same = median_run(work, "full", rounds)[0], median_run(work, "headers", rounds)[0]
print(f"\nThe middlewares against the control (same answer, no middleware): {full / same:.2f}×.")
print(f"\nThe access log file got {lines:,} lines.")
PY
