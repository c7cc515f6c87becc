#!/usr/bin/env bash
# How soon a restarted server answers: a home with JOBS jobs in its store, RUNNING of them left in Training
# by a server that died (as `kill -9` leaves them), then `trainyard serve` started on it; the time from the
# process's start to its first answered ListTrainingJobs and DescribeTrainingJob of a running job (which the
# restart settles: local hosts do not outlive the server yet). RUNS rounds, each on a fresh copy of the home.
#
#   bench/restart.sh [RUNS=5] [JOBS=1000] [RUNNING=100]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${1:-5}"; jobs="${2:-1000}"; running="${3:-100}"
work="$(mktemp -d /tmp/trainyard-restart.XXXXXX)"
trap 'rm -rf "$work"' EXIT
dotnet "$root/bench/Trainyard.Bench/bin/Release/net10.0/Trainyard.Bench.dll" seed "$work/seeded" "$jobs" "$running" >/dev/null
exe="$root/trainyard"  # what users run: the ReadyToRun build (built first if the sources changed)
"$exe" --help >/dev/null
port=18420
last=$(printf 'bench-job-%06d' "$((jobs - 1))")
export AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_DEFAULT_REGION=us-east-1
times=()
for run in $(seq 1 "$runs"); do
  rm -rf "$work/home"; cp -r "$work/seeded" "$work/home"
  start=$(date +%s%N)
  "$exe" serve --home "$work/home" --port "$port" >"$work/server.log" 2>&1 &
  server=$!
  until curl -s -o /dev/null -w '%{http_code}' -X POST -H 'X-Amz-Target: SageMaker.ListTrainingJobs' -H 'Content-Type: application/x-amz-json-1.1' \
      -d '{"MaxResults":100}' "http://127.0.0.1:$port/" 2>/dev/null | grep -q 200; do sleep 0.005; done
  listed=$(date +%s%N)
  status=$(curl -s -X POST -H 'X-Amz-Target: SageMaker.DescribeTrainingJob' -H 'Content-Type: application/x-amz-json-1.1' \
      -d "{\"TrainingJobName\":\"$last\"}" "http://127.0.0.1:$port/" | python3 -c 'import json,sys; print(json.load(sys.stdin)["TrainingJobStatus"])')
  described=$(date +%s%N)
  kill $server; wait $server 2>/dev/null || true
  times+=("$(( (listed - start) / 1000000 ))")
  echo "run $run: first ListTrainingJobs answered $(( (listed - start) / 1000000 )) ms after start; Describe of a running job +$(( (described - listed) / 1000000 )) ms (now $status)"
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
echo "median time to the first answer with $jobs jobs ($running running): $(echo "$sorted" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}') ms (target < 1000 ms)"
