#!/usr/bin/env bash
# JWT RS256 validation on a proxied route beside the same route without it, one seam
# process, interleaved rounds, wrk over loopback, medians. The key pair and the token are
# made by openssl for the run.
#
#   apt-get install -y wrk nginx openssl
#   bash bench/jwt/run.sh [DURATION] [ROUNDS]   # writes bench/jwt/results.md and prints it
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-5s}
rounds=${2:-3}
source bench/lib.sh
needs wrk nginx openssl
build_seam
no_compiler_running
up=$(port); gw=$(port)
start_upstream "$up"
openssl genrsa -out "$work/jwt.key" 2048 2>/dev/null
openssl rsa -in "$work/jwt.key" -pubout -out "$work/jwt.pub" 2>/dev/null
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
header=$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)
payload=$(printf '{"sub":"bench","exp":%d}' $(( $(date +%s) + 3600 )) | b64url)
signature=$(printf '%s.%s' "$header" "$payload" | openssl dgst -sha256 -sign "$work/jwt.key" | b64url)
token="$header.$payload.$signature"
cat >"$work/seam.yaml" <<CONF
server:
  address: 127.0.0.1:$gw
  disableStartupMessage: true
middlewares:
  Jwt:
    use: plugins.jwt.middlewares.JWTValidationMiddleware
    config:
      signingKey:
        algorithm: RS256
        key: |
$(sed 's/^/          /' "$work/jwt.pub")
actions:
  Up: { use: plugins.httpfw.actions.HttpAction, config: { upstreamEndpoint: "http://127.0.0.1:$up" } }
routes:
  Plain: { gatewayPath: /plain/*, action: Up }
  Jwt: { gatewayPath: /jwt/*, middlewares: [Jwt], action: Up }
CONF
start_seam "$work/seam.yaml" "$gw"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:$gw/jwt/")" = 200 ]
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$gw/jwt/")" = 401 ]
for round in $(seq "$rounds"); do
    wrk -t2 -c64 -d"$duration" --latency "http://127.0.0.1:$gw/plain/" >"$work/plain-$round.wrk"
    wrk -t2 -c64 -d"$duration" --latency -H "Authorization: Bearer $token" "http://127.0.0.1:$gw/jwt/" >"$work/jwt-$round.wrk"
done

python3 - "$work" "$duration" "$rounds" <<'PY' | tee bench/jwt/results.md
import sys, datetime
sys.path.insert(0, "bench")
from wrk import comparison, machine
work, duration, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
print(f"Measured {datetime.date.today()} on {machine()} with `bash bench/jwt/run.sh {duration} {rounds}` (wrk -t2 -c64 -d{duration}, median of {rounds} interleaved rounds, seam with its default workers).\n")
print(comparison(work, rounds, [("plain", "HttpAction alone"), ("jwt", "JWTValidationMiddleware (RS256, 2048-bit key) + HttpAction")]))
PY
