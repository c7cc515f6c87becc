#!/usr/bin/env bash
# How long CreateTrainingJob takes when a channel is an S3Prefix over many keys: SageMaker refuses an empty
# channel before any job exists, so Trainyard asks the store whether the prefix holds anything. One boto3
# client, N calls (the first includes connection set-up and is left out of the median); each job runs to its
# end (its algorithm exits at once) before the next call.
#
#   bench/create-job-latency.sh [N]    N default 6
#
# Uses the download bench's s3rver on :4599 (started when none runs) and seeds s3://bench-download/tiny2000/
# (2,000 objects of a few bytes) once.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
n="${1:-6}"
endpoint="$(S3RVER_DIR=/tmp/trainyard-bench-s3rver "$root/.ci/s3rver.sh" 4599 2>/dev/null)"
export AWS_ENDPOINT_URL_S3="$endpoint" AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
work="$(mktemp -d /tmp/trainyard-latency.XXXXXX)"
port=18397
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
server=""
/usr/bin/aws --endpoint-url "$endpoint" s3 mb s3://bench-download >/dev/null 2>&1 || true
if [[ $(/usr/bin/aws --endpoint-url "$endpoint" s3 ls s3://bench-download/tiny2000/ | wc -l) -lt 2000 ]]; then
  mkdir -p "$work/tiny"
  for i in $(seq -w 0 1999); do echo "$i" >"$work/tiny/t$i.txt"; done
  /usr/bin/aws --endpoint-url "$endpoint" s3 cp --recursive --quiet "$work/tiny" s3://bench-download/tiny2000/
fi
mkdir -p "$work/home" "$work/algo"
printf '#!/bin/sh\nexit 0\n' >"$work/algo/train"
chmod +x "$work/algo/train"
"$root/trainyard" serve --object-store s3 --port "$port" --home "$work/home" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 3000); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
/usr/bin/python3 - "$port" "$work/algo" "$n" <<'PY'
import boto3, statistics, sys, time
port, algo, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
sm = boto3.client("sagemaker", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                  aws_access_key_id="x", aws_secret_access_key="x")
times = []
for i in range(n):
    name = f"latency-{int(time.time() * 1000)}-{i}"
    start = time.perf_counter()
    sm.create_training_job(
        TrainingJobName=name, RoleArn="arn:aws:iam::000000000000:role/t",
        AlgorithmSpecification={"TrainingImage": algo, "TrainingInputMode": "File"},
        InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "s3://bench-download/tiny2000/", "S3DataDistributionType": "FullyReplicated"}}}],
        OutputDataConfig={"S3OutputPath": "s3://bench-download/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 600})
    times.append((time.perf_counter() - start) * 1000)
    while sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "InProgress":
        time.sleep(0.2)
print("CreateTrainingJob on a 2,000-key S3Prefix, ms:", " ".join("%.0f" % t for t in times),
      "| median of calls 2..%d: %.0f ms" % (n, statistics.median(times[1:])))
PY
