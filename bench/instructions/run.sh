#!/usr/bin/env bash
# User-space instructions per proxied request, counted by callgrind: seam (the plain
# HttpAction route, and the route with requestid + cors + helmet + logger) against nginx
# and haproxy as proxies in front of the same nginx upstream, and optionally a second seam
# binary (BEFORE) on the same routes; over HTTP/1.1 keep-alive, `Connection: close`, and
# HTTP/2 (h2c with prior knowledge, h2load).
#
# On a shared 2-core machine paired wall-clock rounds of one binary swing by ±20 %; a count
# of instructions repeats within 1 %, so a change of a few percent can be told, and the
# peers' counts say how much user-space work each design does per request. It counts no
# kernel time, no cache misses and no waiting: it complements bench/proxy, it does not
# replace it.
#
#   apt-get install -y valgrind wrk nghttp2-client nginx haproxy
#   bash bench/instructions/run.sh [BEFORE_BIN] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
before=${1:-} secs=${2:-5}
source bench/lib.sh
needs wrk h2load nginx haproxy valgrind callgrind_control
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

# Runs LOADER (wrk over HTTP/1.1, or h2load over h2c with prior knowledge) at URL for
# SECONDS, eight connections (h2load: ten streams in flight on each); prints the number of
# requests it completed.
load() { # loader seconds url extra_args...
    local loader=$1 d=$2 url=$3
    shift 3
    case $loader in
        wrk) wrk -t1 -c8 -d"${d}s" "$@" "$url" 2>/dev/null | awk '/requests in/ {print $1}' ;;
        h2) h2load -c8 -m10 -D "$d" "$@" "$url" 2>/dev/null | awk '/^requests:/ {print $8}' ;;
    esac
}

# Counts PID's instructions over a LOADER run at URL (EXTRA_ARGS...) and writes
# "instructions requests" to $work/NAME.count.
count() { # name pid loader url extra_args...
    local name=$1 pid=$2 loader=$3 url=$4
    shift 4
    load "$loader" 2 "$url" "$@" >/dev/null || true   # warm-up, not counted
    callgrind_control -z "$pid" >/dev/null 2>&1
    callgrind_control -i on "$pid" >/dev/null 2>&1
    local requests
    requests=$(load "$loader" "$secs" "$url" "$@" || true)
    callgrind_control -i off "$pid" >/dev/null 2>&1
    callgrind_control -d "$name" "$pid" >/dev/null 2>&1
    sleep 1
    local file
    file=$(grep -l "^desc: Trigger: .*$name" "$work"/*.cg* | head -1)
    echo "$(awk '/^totals:/ {print $2}' "$file") ${requests:-0}" >"$work/$name.count"
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
        url="http://127.0.0.1:$p/$route/"
        count "$who-$route-ka" "$pid" wrk "$url" -H "Origin: https://app.example.com"
        count "$who-$route-close" "$pid" wrk "$url" -H "Origin: https://app.example.com" -H "Connection: close"
        count "$who-$route-h2" "$pid" h2 "$url" -H "Origin: https://app.example.com"
    done
    kill "$pid"; wait "$pid" 2>/dev/null || true
done

# nginx in one process (no master), haproxy with one thread.
p=$(port); q=$(port)
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
    listen 127.0.0.1:$q http2;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
start_counted nginx "$p" nginx -p "$work/nginx" -c "$work/nginx/nginx.conf"
pid=$started_pid
count nginx-plain-ka "$pid" wrk "http://127.0.0.1:$p/"
count nginx-plain-close "$pid" wrk "http://127.0.0.1:$p/" -H "Connection: close"
count nginx-plain-h2 "$pid" h2 "http://127.0.0.1:$q/"
kill "$pid"; wait "$pid" 2>/dev/null || true

p=$(port); q=$(port)
haproxy_proxy_config haproxy 1 "$p" "$up" "$q"
start_counted haproxy "$p" haproxy -db -f "$work/haproxy.cfg"
pid=$started_pid
count haproxy-plain-ka "$pid" wrk "http://127.0.0.1:$p/"
count haproxy-plain-close "$pid" wrk "http://127.0.0.1:$p/" -H "Connection: close"
count haproxy-plain-h2 "$pid" h2 "http://127.0.0.1:$q/"
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
    fields = open(path).read().split()
    # A run that completed nothing (or a count callgrind did not write) has no rate.
    if len(fields) != 2 or not fields[0].isdigit() or int(fields[1]) == 0:
        return None
    return int(fields[0]) / int(fields[1])
command = "bash bench/instructions/run.sh" + (" BEFORE" if before else "") + f" {secs}" * (secs != "5")
print(f"Measured {datetime.date.today()} on {machine()} with `{command}`: user-space instructions per "
      f"request (callgrind), wrk -t1 -c8 (HTTP/1.1) or h2load -c8 -m10 (h2c) for {secs}s after a 2 s "
      "warm-up, one worker or thread each; the upstream is nginx, not counted.\n")
print("| proxy, route | keep-alive instructions/request | vs nginx | `Connection: close` instructions/request "
      "| vs nginx | HTTP/2 instructions/request | vs nginx |")
print("|---|---:|---:|---:|---:|---:|---:|")
rows = [("nginx (`proxy_pass`, keep-alive pool)", "nginx-plain"), ("haproxy (`http-reuse always`)", "haproxy-plain"),
        ("seam, HttpAction alone", "seam-plain"), ("seam, requestid + cors + helmet + logger + HttpAction", "seam-full")]
if before:
    rows += [("seam BEFORE, HttpAction alone", "before-plain"),
             ("seam BEFORE, requestid + cors + helmet + logger + HttpAction", "before-full")]
kinds = ("ka", "close", "h2")
ref = {kind: per_request(f"nginx-plain-{kind}") for kind in kinds}
for label, name in rows:
    cells = []
    for kind in kinds:
        n = per_request(f"{name}-{kind}")
        cells += [f"{n:,.0f}" if n else "n/a", f"{n / ref[kind]:.2f}×" if n and ref[kind] else "n/a"]
    print(f"| {label} | " + " | ".join(cells) + " |")
if before:
    print()
    for route in ("plain", "full"):
        for kind, label in (("ka", "keep-alive"), ("close", "`Connection: close`"), ("h2", "HTTP/2")):
            a, b = per_request(f"before-{route}-{kind}"), per_request(f"seam-{route}-{kind}")
            ratio = f"{b / a:.3f}×" if a and b else "n/a"
            print(f"- {route} route, {label}: this build {ratio} the instructions of BEFORE")
PY
