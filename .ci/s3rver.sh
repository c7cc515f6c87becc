#!/usr/bin/env bash
# Starts s3rver (a real S3-compatible server, npm s3rver@3.7.1) on 127.0.0.1 in the background, for
# tests and benchmarks. Idempotent: installs s3rver into .ci/node_modules when missing, and does
# nothing when something already answers on the port.
#
#   .ci/s3rver.sh [PORT]            PORT defaults to $S3RVER_PORT, then 4568
#   S3RVER_DIR=/tmp/x .ci/s3rver.sh data directory (default /tmp/trainyard-s3rver-PORT)
#
# Prints the endpoint URL on success. Stop it with: kill "$(cat "$S3RVER_DIR/s3rver.pid")"
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="${1:-${S3RVER_PORT:-4568}}"
dir="${S3RVER_DIR:-/tmp/trainyard-s3rver-$port}"
bin="$here/node_modules/s3rver/bin/s3rver.js"

answers() { curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/"; }

if answers; then
  echo "http://127.0.0.1:$port"
  exit 0
fi

if [[ ! -f "$bin" ]]; then
  # A lock, so two test processes starting at once do not install over each other.
  exec 9>"$here/.s3rver-install.lock"
  flock 9
  [[ -f "$bin" ]] || npm install --no-save --no-audit --no-fund --prefix "$here" s3rver@3.7.1 >&2
  flock -u 9
fi

mkdir -p "$dir"
# s3rver's signing code uses MD4-era OpenSSL APIs that Node 17+ hides behind the legacy provider.
nohup node --openssl-legacy-provider "$bin" --address 127.0.0.1 --port "$port" --directory "$dir" --silent \
  >"$dir/s3rver.log" 2>&1 </dev/null &
echo $! >"$dir/s3rver.pid"

for _ in $(seq 1 150); do
  if answers; then
    echo "http://127.0.0.1:$port"
    exit 0
  fi
  if ! kill -0 "$(cat "$dir/s3rver.pid")" 2>/dev/null; then
    echo "s3rver exited; log:" >&2
    cat "$dir/s3rver.log" >&2
    exit 1
  fi
  sleep 0.1
done
echo "s3rver did not answer on port $port within 15 s" >&2
exit 1
