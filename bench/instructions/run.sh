#!/usr/bin/env bash
# User-space instructions per proxied request, counted by callgrind: seam (the plain
# HttpAction route, and the route with requestid + cors + helmet + logger) against nginx
# and haproxy as proxies in front of the same nginx upstream, and optionally a second seam
# binary (BEFORE) on the same routes.
#
# On a shared 2-core machine paired wall-clock rounds of one binary swing by ±20 %; a count
# of instructions repeats within 1 %, so a change of a few percent can be told, and the
# peers' counts say how much user-space work each design does per request. It counts no
# kernel time, no cache misses and no waiting: it complements bench/proxy, it does not
# replace it.
#
#   apt-get install -y valgrind wrk nginx haproxy
#   bash bench/instructions/run.sh [BEFORE_BIN] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
before=${1:-} secs=${2:-5}
source bench/lib.sh
needs wrk nginx haproxy valgrind callgrind_control
no_compiler_running
build_seam
no_compiler_running

up=$(port)
start_upstream "$up"

seam_config() { # port
    cat <<CONF
server:
  address: 127.0.0.1:$1
  disableStartupMessage: true
middlewares:
  Id: { use: plugins.requestid.middlewares.RequestIdMiddleware }
  Cors: { use: plugins.cors.middlewares.CORSMiddleware, config: { allowOrigins: "https://app.example.com" } }
  Helmet: { use: plugins.helmet.middlewares.HelmetMiddleware }
  Log:
    use: plugins.logger.middlewares.LoggerMiddleware
    config: { output: "$work/access-$1.log" }
actions:
  Up: { use: plugins.httpfw.actions.HttpAction, config: { upstreamEndpoint: "http://127.0.0.1:$up" } }
routes:
  Plain: { gatewayPath: /plain/*, action: Up }
  Full: { gatewayPath: /full/*, middlewares: [Id, Cors, Helmet, Log], action: Up }
CONF
}

# Starts COMMAND... under callgrind with counting off, as NAME; waits for PORT.
start_counted() { # name port command...
    local name=$1 p=$2
    shift 2
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/$name.cg" "$@" \
        >"$work/$name.out" 2>&1 &
    started_pid=$!
    pids+=($started_pid)
    for _ in $(seq 600); do (exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null && return 0; sleep 0.1; done
    echo "$name did not open port $p under valgrind: $(tail -3 "$work/$name.out")" >&2
    exit 1
}

# Counts PID's instructions over a wrk run at URL (WRK_ARGS...) and writes
# "instructions requests" to $work/NAME.count.
count() { # name pid url wrk_args...
    local name=$1 pid=$2 url=$3
    shift 3
    wrk -t1 -c8 -d2s "$@" "$url" >/dev/null 2>&1 || true   # warm-up, not counted
    callgrind_control -z "$pid" >/dev/null 2>&1
    callgrind_control -i on "$pid" >/dev/null 2>&1
    wrk -t1 -c8 -d"${secs}s" "$@" "$url" >"$work/$name.wrk" 2>&1 || true
    callgrind_control -i off "$pid" >/dev/null 2>&1
    callgrind_control -d "$name" "$pid" >/dev/null 2>&1
    sleep 1
    local file
    file=$(grep -l "^desc: Trigger: .*$name" "$work"/*.cg* | head -1)
    echo "$(awk '/^totals:/ {print $2}' "$file") $(awk '/requests in/ {print $1}' "$work/$name.wrk")" \
        >"$work/$name.count"
    rm -f "$file"
    cat "$work/$name.count" >&2
}

# seam binaries: "seam" (this build) and, if given, "before".
declare -A bins=([seam]="$seam")
[ -n "$before" ] && bins[before]=$before
for who in "${!bins[@]}"; do
    p=$(port)
    seam_config "$p" >"$work/$who.yaml"
    RUST_LOG=warn start_counted "$who" "$p" "${bins[$who]}" run --workers 1 "$work/$who.yaml"
    pid=$started_pid
    for route in plain full; do
        count "$who-$route-ka" "$pid" "http://127.0.0.1:$p/$route/" -H "Origin: https://app.example.com"
        count "$who-$route-close" "$pid" "http://127.0.0.1:$p/$route/" -H "Origin: https://app.example.com" \
            -H "Connection: close"
    done
    kill "$pid"; wait "$pid" 2>/dev/null || true
done

# nginx in one process (no master), haproxy with one thread.
p=$(port)
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<CONF
master_process off;
daemon off;
pid $work/nginx/nginx.pid;
error_log stderr error;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream app { server 127.0.0.1:$up; keepalive 256; }
  server {
    listen 127.0.0.1:$p;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
start_counted nginx "$p" nginx -p "$work/nginx" -c "$work/nginx/nginx.conf"
pid=$started_pid
count nginx-plain-ka "$pid" "http://127.0.0.1:$p/plain/"
count nginx-plain-close "$pid" "http://127.0.0.1:$p/plain/" -H "Connection: close"
kill "$pid"; wait "$pid" 2>/dev/null || true

p=$(port)
haproxy_proxy_config haproxy 1 "$p" "$up"
start_counted haproxy "$p" haproxy -db -f "$work/haproxy.cfg"
pid=$started_pid
count haproxy-plain-ka "$pid" "http://127.0.0.1:$p/plain/"
count haproxy-plain-close "$pid" "http://127.0.0.1:$p/plain/" -H "Connection: close"
kill "$pid"; wait "$pid" 2>/dev/null || true

python3 - "$work" "$secs" "$before" <<'PY'
import datetime, os, sys
sys.path.insert(0, "bench")
from wrk import machine
work, secs, before = sys.argv[1], sys.argv[2], sys.argv[3]
def per_request(name):
    path = f"{work}/{name}.count"
    if not os.path.exists(path):
        return None
    instructions, requests = open(path).read().split()
    return int(instructions) / int(requests)
command = "bash bench/instructions/run.sh" + (" BEFORE" if before else "") + f" {secs}" * (secs != "5")
print(f"Measured {datetime.date.today()} on {machine()} with `{command}`: user-space instructions per "
      f"request (callgrind), wrk -t1 -c8 for {secs}s after a 2 s warm-up, one worker or thread each; "
      "the upstream is nginx, not counted.\n")
print("| proxy, route | keep-alive instructions/request | vs nginx | `Connection: close` instructions/request | vs nginx |")
print("|---|---:|---:|---:|---:|")
rows = [("nginx (`proxy_pass`, keep-alive pool)", "nginx-plain"), ("haproxy (`http-reuse always`)", "haproxy-plain"),
        ("seam, HttpAction alone", "seam-plain"), ("seam, requestid + cors + helmet + logger + HttpAction", "seam-full")]
if before:
    rows += [("seam BEFORE, HttpAction alone", "before-plain"),
             ("seam BEFORE, requestid + cors + helmet + logger + HttpAction", "before-full")]
ref = {kind: per_request(f"nginx-plain-{kind}") for kind in ("ka", "close")}
for label, name in rows:
    cells = []
    for kind in ("ka", "close"):
        n = per_request(f"{name}-{kind}")
        cells += [f"{n:,.0f}", f"{n / ref[kind]:.2f}×"] if n and ref[kind] else ["n/a", "n/a"]
    print(f"| {label} | " + " | ".join(cells) + " |")
if before:
    print()
    for route in ("plain", "full"):
        for kind, label in (("ka", "keep-alive"), ("close", "`Connection: close`")):
            a, b = per_request(f"before-{route}-{kind}"), per_request(f"seam-{route}-{kind}")
            print(f"- {route} route, {label}: this build {b / a:.3f}× the instructions of BEFORE")
PY
