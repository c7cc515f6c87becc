#!/usr/bin/env bash
# End to end: how long a real training job's File-mode download takes inside `trainyard serve
# --object-store s3`, beside `/usr/bin/aws s3 cp --recursive` and `rclone copy` of the same objects,
# round-robin, on the same s3rver. The job's download time is SageMaker's own measure: the
# "Downloading" entry of DescribeTrainingJob's SecondaryStatusTransitions (its StartTime to EndTime).
#
#   bench/s3-job-download.sh [RUNS] [SHAPE] [WARMUP]   RUNS default 3; SHAPE 8x128MiB (default) or
#                                                      2000x512KiB; WARMUP untimed jobs first (default 0)
#
# The server is ReadyToRun-compiled; its first jobs still tier hot code up in the background (perf: the
# JIT thread took ~0.5 s of CPU during the third 1 GiB job's download), so WARMUP=3 or so measures a
# server that has been up for a while, WARMUP=0 one that just started.
#
# CEILING=1 adds two clients that cost next to nothing, in the same round-robin: eight parallel unsigned
# `curl` GETs into files, and into /dev/null: what s3rver itself can serve at that hour. Large-object
# shapes only (one curl process per object: on 2,000 objects the process starts are what it would measure).
#
# NO_PAGE_REPORTING=1 (root) turns the VM's free page reporting off for the run and restores it after,
# as the download bench's --no-page-reporting does (see bench/Trainyard.Bench/PageReporting.cs).
#
# Needs the objects the download bench seeds; run it once with --keep first:
#   dotnet bench/Trainyard.Bench/bin/Release/net10.0/Trainyard.Bench.dll s3-download --runs 1 --keep
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${1:-3}"
shape="${2:-8x128MiB}"
warmup="${3:-0}"
endpoint="$(S3RVER_DIR=/tmp/trainyard-bench-s3rver "$root/.ci/s3rver.sh" 4599 2>/dev/null)"  # the download bench's server and data
export AWS_ENDPOINT_URL_S3="$endpoint" AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
count=$(/usr/bin/aws --endpoint-url "$endpoint" s3 ls "s3://bench-download/$shape/" | wc -l)
[[ "$count" -gt 0 ]] || { echo "no objects under s3://bench-download/$shape/: seed them with the download bench (--keep)" >&2; exit 1; }

work="$(mktemp -d /tmp/trainyard-s3job.XXXXXX)"
order_file=/sys/module/page_reporting/parameters/page_reporting_order
order_before=""
if [[ -n "${NO_PAGE_REPORTING:-}" && -w "$order_file" ]]; then
  order_before="$(cat "$order_file")"
  echo 11 >"$order_file"
  dd if=/dev/zero of="$work/warm" bs=1M count=3072 status=none && rm -f "$work/warm"
fi
echo "free page reporting order: $(cat "$order_file" 2>/dev/null || echo none)"
port=18390
home="$work/home"
# Each job's directory and each CLI run's target in a block group of its own (ext4 TOPDIR, `chattr +T`): on
# this journal-less ext4 an inode allocation reads past every inode freed in the last minutes, and each
# round here frees thousands (see S3DownloadBenchmark.SpreadSubdirectories). The same for every tool.
mkdir -p "$home/jobs" "$work/targets"
chattr +T "$home/jobs" "$work/targets" 2>/dev/null || true
algo="$work/algorithm"
mkdir -p "$algo"
printf '#!/bin/sh\nexit 0\n' >"$algo/train"
chmod +x "$algo/train"

"$root/trainyard" serve --object-store s3 --port "$port" --home "$home" >"$work/server.log" 2>&1 &
server=$!
trap '[[ -n "$order_before" ]] && echo "$order_before" >"$order_file"; kill $server 2>/dev/null; wait $server 2>/dev/null; [[ -n "${KEEP_SERVER_LOG:-}" ]] && cp "$work/server.log" "$KEEP_SERVER_LOG"; rm -rf "$work"' EXIT
# The first start may build Trainyard (./trainyard builds when the sources changed): wait up to 5 minutes.
for _ in $(seq 1 3000); do kill -0 $server 2>/dev/null || break; curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
kill -0 $server 2>/dev/null && curl -s -o /dev/null "http://127.0.0.1:$port/" || { echo "trainyard serve did not start; its log:" >&2; cat "$work/server.log" >&2; exit 1; }
pid=$(pgrep -f "trainyard serve --object-store s3 --port $port" | head -1)
sm() { /usr/bin/aws --endpoint-url "http://127.0.0.1:$port" sagemaker "$@"; }

job_seconds() {
  local name="$1"
  sm create-training-job --training-job-name "$name" --role-arn arn:aws:iam::000000000000:role/t \
    --algorithm-specification "TrainingImage=$algo,TrainingInputMode=File" \
    --input-data-config "[{\"ChannelName\":\"train\",\"DataSource\":{\"S3DataSource\":{\"S3DataType\":\"S3Prefix\",\"S3Uri\":\"s3://bench-download/$shape/\",\"S3DataDistributionType\":\"FullyReplicated\"}}}]" \
    --output-data-config S3OutputPath=s3://bench-download/out --resource-config InstanceType=ml.m5.large,InstanceCount=1,VolumeSizeInGB=10 \
    --stopping-condition MaxRuntimeInSeconds=600 >/dev/null || { echo "create-training-job failed" >&2; return 1; }
  # Wait on the job's log, not by polling with the AWS CLI: each `aws` process takes most of a core for
  # half a second, which would be taken from the download being measured (the CLI's own waiter polls
  # every 120 s).
  local waited=0
  until grep -qs "the algorithm exited\|ClientError\|failed" "$home/jobs/$name/logs/"* ; do
    sleep 0.2
    waited=$((waited + 1))
    [[ $waited -lt 3000 ]] || { echo "job $name did not end within 10 minutes" >&2; return 1; }
  done
  sleep 0.5
  sm describe-training-job --training-job-name "$name" | /usr/bin/python3 -c '
import json, sys
job = json.load(sys.stdin)
assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
d = [t for t in job["SecondaryStatusTransitions"] if t["Status"] == "Downloading"][0]
from datetime import datetime
print("%.2f" % (datetime.fromisoformat(d["EndTime"]) - datetime.fromisoformat(d["StartTime"])).total_seconds())'
}

# Between runs a tool's output is set aside, not deleted (DELETE_BETWEEN_RUNS=1 deletes it): this root
# file system is ext4 without a journal, which skips every inode freed in the last minutes, reading each
# from the inode table, whenever it allocates one, so 2,000 deleted files made the next tool's 2,000 creates
# cost 0.3 s+ of CPU, serialised on the directory. The files set aside leave the page cache now, as a
# deletion's pages would, and are deleted with the work directory at the end.
set_aside() {
  sync
  local d to
  for d in "$@"; do
    [[ -e "$d" ]] || continue
    if [[ -n "${DELETE_BETWEEN_RUNS:-}" ]]; then rm -rf "$d"; continue; fi
    to="$work/aside/$(date +%s%N)"
    mkdir -p "$work/aside"
    mv "$d" "$to"
    find "$to" -type f -print0 | /usr/bin/python3 -c '
import os, sys
for p in sys.stdin.buffer.read().split(b"\0"):
    if p:
        fd = os.open(p, os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)'
  done
  sync
}

timed() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
declare -A best
record() {  # record TOOL LABEL SECONDS RUN: prints the run and keeps the tool's best
  printf 'run %s: %-32s %s s\n' "$4" "$2" "$3"
  best[$1]=$(echo "${best[$1]:-999} $3" | awk '{print ($2 < $1) ? $2 : $1}')
}

target="$work/targets/cli"
/usr/bin/aws --endpoint-url "$endpoint" s3 ls "s3://bench-download/$shape/" | awk '{print $4}' >"$work/keys"
for i in $(seq 1 "$warmup"); do
  t=$(job_seconds "s3warm-$i-$(date +%s)")
  echo "warm-up job $i: $t s (untimed)"
  set_aside "$home"/jobs/*
done
for i in $(seq 1 "$runs"); do
  sync
  t=$(job_seconds "s3job-$i-$(date +%s)")
  record trainyard "trainyard job (Downloading)" "$t" "$i"
  set_aside "$home"/jobs/*  # the channel copy: keep the disk as the CLI runs find it
  set_aside "$target"
  record aws "aws s3 cp --recursive" "$(timed /usr/bin/aws --endpoint-url "$endpoint" s3 cp --recursive --quiet "s3://bench-download/$shape/" "$target/")" "$i"
  set_aside "$target"
  record rclone "rclone copy" "$(timed env -u AWS_CA_BUNDLE rclone copy ":s3,provider=Other,endpoint=\"$endpoint\",access_key_id=S3RVER,secret_access_key=S3RVER,force_path_style=true:bench-download/$shape" "$target")" "$i"
  set_aside "$target"
  if [[ -n "${CEILING:-}" && $(wc -l <"$work/keys") -le 64 ]]; then
    # What the server gives a client that costs nothing: unsigned parallel GETs with curl (s3rver does not
    # check signatures), 8 at a time, into files and into /dev/null. No check of any kind.
    mkdir -p "$target"; sync
    record curlfiles "curl x8 -> files (no check)" "$(timed bash -c "xargs -P 8 -I{} curl -sf -o '$target/{}' '$endpoint/bench-download/$shape/{}' <'$work/keys'")" "$i"
    set_aside "$target"
    record curlnull "curl x8 -> /dev/null" "$(timed bash -c "xargs -P 8 -I{} curl -sf -o /dev/null '$endpoint/bench-download/$shape/{}' <'$work/keys'")" "$i"
  fi
done
echo "best of $runs ($shape): trainyard job ${best[trainyard]} s, aws ${best[aws]} s, rclone ${best[rclone]} s"
[[ -z "${CEILING:-}" ]] || echo "server ceiling: curl x8 into files ${best[curlfiles]} s, into /dev/null ${best[curlnull]} s"
echo "speed-up: $(echo "scale=2; ${best[aws]} / ${best[trainyard]}" | bc)x aws, $(echo "scale=2; ${best[rclone]} / ${best[trainyard]}" | bc)x rclone"
grep VmHWM "/proc/$pid/status" | sed 's/^/server peak memory /'
