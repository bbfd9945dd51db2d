#!/usr/bin/env bash
# Seam's HTTP middlewares on a proxied route: requestid + cors + helmet + logger (to a file)
# beside the same route without them, each of the four alone, and a control route whose
# upstream sends the same headers; same seam process, interleaved rounds, wrk over loopback
# (every request sends an Origin, so CORS does its work); medians. A second table gives the
# CPU time per request of seam (/proc/PID/stat) and of wrk (/usr/bin/time), to tell what the
# middlewares cost seam from what the bigger answers cost the load generator.
#
#   apt-get install -y wrk nginx time
#   bash bench/middlewares/run.sh [DURATION] [ROUNDS]   # writes bench/middlewares/results.md and prints it
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-5s}
rounds=${2:-3}
source bench/lib.sh
needs wrk nginx /usr/bin/time
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
  IdAlone: { gatewayPath: /id/*, middlewares: [Id], action: Up }
  CorsAlone: { gatewayPath: /cors/*, middlewares: [Cors], action: Up }
  HelmetAlone: { gatewayPath: /helmet/*, middlewares: [Helmet], action: Up }
  LogAlone: { gatewayPath: /log/*, middlewares: [Log], action: Up }
  Headers: { gatewayPath: /headers/*, action: SameHeaders }
CONF
start_seam "$work/seam.yaml" "$gw"
seam_pid=${pids[-1]}
routes="plain id cors helmet log full headers"
for round in $(seq "$rounds"); do
    for route in $routes; do
        before=$(ticks "$seam_pid")
        /usr/bin/time -f "%U %S" -o "$work/$route-$round.wrk-cpu" \
            wrk -t2 -c64 -d"$duration" --latency -H "Origin: https://app.example.com" "http://127.0.0.1:$gw/$route/" >"$work/$route-$round.wrk"
        echo "$before $(ticks "$seam_pid")" >"$work/$route-$round.ticks"
    done
done
lines=$(wc -l <"$work/access.log")

python3 - "$work" "$duration" "$rounds" "$lines" "$(getconf CLK_TCK)" <<'PY' | tee bench/middlewares/results.md
import sys, datetime, statistics
sys.path.insert(0, "bench")
from wrk import comparison, machine, median_run, parse
work, duration, rounds, lines, hz = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
print(f"Measured {datetime.date.today()} on {machine()} with `bash bench/middlewares/run.sh {duration} {rounds}` (wrk -t2 -c64 -d{duration}, median of {rounds} interleaved rounds, seam with its default workers).\n")
rows = [
    ("plain", "HttpAction alone"),
    ("id", "requestid + HttpAction"),
    ("cors", "cors + HttpAction"),
    ("helmet", "helmet + HttpAction"),
    ("log", "logger (file) + HttpAction"),
    ("full", "requestid + cors + helmet + logger (file) + HttpAction"),
    ("headers", "control: HttpAction alone, the upstream sending the same 16 headers"),
]
print(comparison(work, rounds, rows))
secs = float(duration.rstrip("s"))
print("\nCPU time per request, medians of the rounds: seam's (all its threads, the log writer's too) and wrk's (both of its threads).\n")
print("| route | seam user µs | seam system µs | wrk user + system µs |")
print("|---|---:|---:|---:|")
for name, label in rows:
    user, system, load = [], [], []
    for r in range(1, rounds + 1):
        served = parse(f"{work}/{name}-{r}.wrk")[0] * secs
        u0, s0, u1, s1 = map(int, open(f"{work}/{name}-{r}.ticks").read().split())
        wu, ws = map(float, open(f"{work}/{name}-{r}.wrk-cpu").read().split())
        user.append((u1 - u0) / hz / served * 1e6)
        system.append((s1 - s0) / hz / served * 1e6)
        load.append((wu + ws) / served * 1e6)
    print(f"| {label} | {statistics.median(user):.2f} | {statistics.median(system):.2f} | {statistics.median(load):.2f} |")
full, same = median_run(work, "full", rounds)[0], median_run(work, "headers", rounds)[0]
print(f"\nThe middlewares against the control (same answer, no middleware): {full / same:.2f}×.")
print(f"\nThe access log file got {lines:,} lines.")
PY
