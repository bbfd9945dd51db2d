#!/usr/bin/env bash
# WebSocket echo through seam (WebSocketAction, and HttpAction passing the upgrade through)
# and through nginx (the peer) beside the echo server direct, interleaved
# rounds, medians; then RSS per idle connection.
#
#   bash bench/ws/run.sh [SECONDS] [ROUNDS] [CONNECTIONS]   # writes bench/ws/results.md and prints it
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-5}
rounds=${2:-3}
connections=${3:-32}
source bench/lib.sh
needs nginx
build_seam; cargo build --release --quiet -p seam-bench-ws
no_compiler_running
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
{
    echo "Measured $(date -u +%Y-%m-%d) on $(python3 -c 'import sys; sys.path.insert(0, "bench"); from wrk import machine; print(machine())') with \`bash bench/ws/run.sh $seconds $rounds $connections\` ($connections connections, one 64-byte message in flight each unless a table says otherwise, medians of $rounds interleaved rounds of ${seconds}s; the load generator and the echo server share one process and the machine's cores with seam)."
    echo
    target/release/seam-bench-ws "$seam" "$seconds" "$rounds" "$connections"
} | tee bench/ws/results.md
