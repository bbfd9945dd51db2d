#!/usr/bin/env bash
# The training run of a profile-guided build (see deploy/pgo/build.sh): runs SEAM_BIN (a
# binary built with -Cprofile-generate) in front of a local nginx with every kind of route a
# gateway serves (plain proxy, Seam's middlewares, sessions on Valkey with and without
# clientCache, rate limits, the response cache, JWT), drives each with wrk and h2load
# (keep-alive, Connection: close, HTTP/2), then stops seam so that it writes its profile.
#
#   bash deploy/pgo/train.sh SEAM_BIN [SECONDS_PER_LOAD]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$1
secs=${2:-4}
source bench/lib.sh
needs wrk nginx h2load curl
vk=$(port); up=$(port); gw=$(port)
start_valkey "$vk"
start_upstream "$up"
make_10k_file
id=$(store_session "$vk")
secret=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
token=$(python3 - "$secret" <<'PY'
import base64, hashlib, hmac, json, sys, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = b64(json.dumps({"sub": "trainer", "exp": int(time.time()) + 3600}).encode())
sig = b64(hmac.new(sys.argv[1].encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
print(f"{head}.{body}.{sig}")
PY
)
cat >"$work/seam.yaml" <<CONF
server:
  address: 127.0.0.1:$gw
  disableStartupMessage: true
storages:
  SessionStorage:
    use: plugins.valkey.storages.ValkeyStorage
    config: { prefix: "session_", host: 127.0.0.1, port: $vk }
  CachedSessionStorage:
    use: plugins.valkey.storages.ValkeyStorage
    config: { prefix: "session_", host: 127.0.0.1, port: $vk, clientCache: { maxEntries: 10000, ttl: 60s } }
  Shared:
    use: plugins.valkey.storages.ValkeyStorage
    config: { prefix: "train_", host: 127.0.0.1, port: $vk }
middlewares:
  Id: { use: plugins.requestid.middlewares.RequestIdMiddleware }
  Cors: { use: plugins.cors.middlewares.CORSMiddleware, config: { allowOrigins: "https://app.example.com", allowCredentials: true } }
  Helmet: { use: plugins.helmet.middlewares.HelmetMiddleware }
  Log:
    use: plugins.logger.middlewares.LoggerMiddleware
    config: { output: "$work/access.log", format: "\${time} \${status} \${latency} \${method} \${url} \${requestId}\\n" }
  Session: { use: plugins.sessions.middlewares.SessionMiddleware, config: { storage: SessionStorage, disableSessionForward: true } }
  CachedSession: { use: plugins.sessions.middlewares.SessionMiddleware, config: { storage: CachedSessionStorage, disableSessionForward: true } }
  UserHeaders: { use: plugins.sessions.middlewares.MapSessionToHeaderMiddleware, config: { headers: { X-User-Id: user_id, X-Role: role } } }
  Limit: { use: plugins.limiter.middlewares.LimiterMiddleware, config: { storage: Shared, maxConnections: 1000000000, expiration: 60s } }
  Cache: { use: plugins.cache.middlewares.CacheMiddleware, config: { storage: Shared, expiration: 60s } }
  Jwt: { use: plugins.jwt.middlewares.JWTValidationMiddleware, config: { signingKey: { algorithm: HS256, key: "$secret" } } }
actions:
  Up: { use: plugins.httpfw.actions.HttpAction, config: { upstreamEndpoint: "http://127.0.0.1:$up" } }
routes:
  Plain: { gatewayPath: /plain/*, action: Up }
  Full: { gatewayPath: /full/*, middlewares: [Id, Cors, Helmet, Log], action: Up }
  Session: { gatewayPath: /session/*, middlewares: [Session, UserHeaders], action: Up }
  Cached: { gatewayPath: /cached/*, middlewares: [CachedSession, UserHeaders], action: Up }
  Limited: { gatewayPath: /limited/*, middlewares: [Limit], action: Up }
  CachedResponse: { gatewayPath: /cache/*, middlewares: [Cache], action: Up }
  Jwt: { gatewayPath: /jwt/*, middlewares: [Jwt], action: Up }
CONF
# With the access log on, as `seam run` is by default (its lines to a pipe, as under a
# container runtime): its path is trained too.
RUST_LOG=info "$bin" run "$work/seam.yaml" 2> >(cat >/dev/null) &
seam_pid=$!
pids+=($seam_pid)
wait_port "$gw"
base="http://127.0.0.1:$gw"
load() { wrk -t2 -c64 -d"${secs}s" "$@" >/dev/null; }
# Each trained route must answer 200 first: a profile of refusals would optimize the wrong paths.
expect_ok() {
    status=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "$@")
    [ "$status" = 200 ] || { echo "training route answered $status: curl $*" >&2; exit 1; }
}
expect_ok "$base/plain/"
expect_ok -H "Origin: https://app.example.com" "$base/full/"
expect_ok -H "Cookie: session_id=$id" "$base/session/"
expect_ok -H "Cookie: session_id=$id" "$base/cached/"
expect_ok "$base/limited/"
expect_ok "$base/cache/10k.txt"
expect_ok -H "Authorization: Bearer $token" "$base/jwt/"
load "$base/plain/"
load -H "Connection: close" "$base/plain/"
h2load -t2 -c64 -m10 -D "$secs" "$base/plain/" >/dev/null
load -H "Origin: https://app.example.com" "$base/full/"
load -H "Cookie: session_id=$id" "$base/session/"
load -H "Cookie: session_id=$id" "$base/cached/"
load "$base/limited/"
load "$base/cache/10k.txt"
load -H "Authorization: Bearer $token" "$base/jwt/"
# Misses, refusals and a preflight, so that the error paths are not all cold.
load "$base/nowhere"
echo 'wrk.method = "OPTIONS"' >"$work/options.lua"
load -s "$work/options.lua" -H "Origin: https://app.example.com" -H "Access-Control-Request-Method: GET" "$base/full/"
kill -TERM "$seam_pid"
wait "$seam_pid" || true
