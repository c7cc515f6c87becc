#!/usr/bin/env bash
# The S3 API of the embedded store against s3rver: `/usr/bin/aws s3 cp` of one 1 GiB file up and down,
# round-robin on the same machine in the same run, with the client's own ceiling beside it. The CLI has
# no local-to-local copy, so its ceiling is the CLI against bench/s3-null-server.js (uploads discarded,
# downloads served from a buffer of zeros: next to no server cost), and the file-to-file `cp` of the
# same bytes is shown too. Each line also gives the CPU seconds the CLI and the server spent.
#
#   bench/s3-api-cp.sh [RUNS] [MIB]        RUNS default 3, MIB default 1024
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${1:-3}"
mib="${2:-1024}"
work="$(mktemp -d /tmp/trainyard-s3cp.XXXXXX)"
ty_port=18410
s3rver_port=4610
"$root/trainyard" serve --port "$ty_port" --home "$work/home" >"$work/server.log" 2>&1 &
server=$!
s3rver_dir="$work/s3rver"
endpoint_s3rver="$(S3RVER_DIR="$s3rver_dir" "$root/.ci/s3rver.sh" "$s3rver_port")"
null_port=4611
node "$root/bench/s3-null-server.js" "$null_port" "$((mib << 20))" &
null_server=$!
trap 'kill $server $null_server 2>/dev/null; wait $server 2>/dev/null; kill "$(cat "$s3rver_dir/s3rver.pid")" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 3000); do curl -s -o /dev/null "http://127.0.0.1:$ty_port/" && break; sleep 0.1; done
endpoint_ty="http://127.0.0.1:$ty_port"

unset AWS_CA_BUNDLE AWS_PROFILE
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""
aws=/usr/bin/aws
file="$work/big.bin"
head -c "$((mib << 20))" /dev/urandom >"$file"
for e in "$endpoint_ty" "$endpoint_s3rver"; do $aws --endpoint-url "$e" s3 mb s3://bench >/dev/null; done

seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc; }
cpu_of() { awk '{print ($14 + $15) / 100}' "/proc/$1/stat"; }  # user + system seconds of a process
declare -A cpu_client cpu_server
s3rver_pid=$(cat "$s3rver_dir/s3rver.pid")
ty_pid=$(pgrep -f "serve --port $ty_port" | tail -1)
mbps() { echo "scale=1; $mib * 1.048576 / $1" | bc; }
declare -A up down
for run in $(seq 1 "$runs"); do
  for name in trainyard s3rver ceiling; do
    e=$endpoint_ty; pid=$ty_pid
    [[ $name == s3rver ]] && { e=$endpoint_s3rver; pid=$s3rver_pid; }
    [[ $name == ceiling ]] && { e="http://127.0.0.1:$null_port"; pid=$null_server; }
    before=$(cpu_of "$pid")
    s0=$(date +%s.%N); /usr/bin/time -f "%U %S" -o "$work/time" $aws --endpoint-url "$e" s3 cp --only-show-errors "$file" s3://bench/big.bin; s1=$(date +%s.%N)
    up[$name]+="$(mbps "$(echo "$s1 - $s0" | bc)") "
    cpu_client[$name-up]+="$(awk '{print $1 + $2}' "$work/time") "
    after=$(cpu_of "$pid"); cpu_server[$name-up]+="$(echo "$after - $before" | bc) "; before=$after
    rm -f "$work/back.bin"
    s0=$(date +%s.%N); /usr/bin/time -f "%U %S" -o "$work/time" $aws --endpoint-url "$e" s3 cp --only-show-errors s3://bench/big.bin "$work/back.bin"; s1=$(date +%s.%N)
    down[$name]+="$(mbps "$(echo "$s1 - $s0" | bc)") "
    cpu_client[$name-down]+="$(awk '{print $1 + $2}' "$work/time") "
    after=$(cpu_of "$pid"); cpu_server[$name-down]+="$(echo "$after - $before" | bc) "
    [[ $name == ceiling ]] || cmp -s "$file" "$work/back.bin" || { echo "$name: the downloaded file differs" >&2; exit 1; }
  done
  rm -f "$work/copy.bin"
  t=$(seconds cp "$file" "$work/copy.bin")
  up[cp]+="$(mbps "$t") "
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "aws s3 cp of $mib MiB, $runs runs, MB/s (median; all runs) [median CPU seconds: CLI / server]"
for name in trainyard s3rver ceiling; do
  echo "$name  up $(echo "${up[$name]}" | median) (${up[$name]% }) [$(echo "${cpu_client[$name-up]}" | median) / $(echo "${cpu_server[$name-up]}" | median)]" \
    " down $(echo "${down[$name]}" | median) (${down[$name]% }) [$(echo "${cpu_client[$name-down]}" | median) / $(echo "${cpu_server[$name-down]}" | median)]"
done
echo "ceiling: cp file to file $(echo "${up[cp]}" | median) (${up[cp]% })"
