#!/usr/bin/env bash
# Installs the AWS SDK for JavaScript v3 clients the tests drive (npm @aws-sdk/client-cloudwatch-logs and
# @aws-sdk/client-s3) into .ci/aws-sdk-js/node_modules (git-ignored). Idempotent; run by ./test.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="$here/aws-sdk-js"
logs=3.1169.0
s3=3.1175.0
want() { [[ -f "$dir/node_modules/@aws-sdk/$1/package.json" ]] && grep -q "\"version\": \"$2\"" "$dir/node_modules/@aws-sdk/$1/package.json"; }
if want client-cloudwatch-logs "$logs" && want client-s3 "$s3"; then
  exit 0
fi
mkdir -p "$dir"
exec 9>"$dir/.install.lock"
flock 9
if ! (want client-cloudwatch-logs "$logs" && want client-s3 "$s3"); then
  echo "Installing @aws-sdk/client-cloudwatch-logs@$logs and @aws-sdk/client-s3@$s3 (npm)…" >&2
  npm install --no-save --no-audit --no-fund --no-package-lock --prefix "$dir" \
    "@aws-sdk/client-cloudwatch-logs@$logs" "@aws-sdk/client-s3@$s3" >&2
fi
