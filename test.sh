#!/usr/bin/env bash
# Runs Trainyard's whole test suite on a fresh Debian machine: installs what the tests drive for real
# (bubblewrap, Debian's AWS CLI v2, boto3, pip and venv), then runs every test project.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DEBIAN_FRONTEND=noninteractive

missing=()
command -v bwrap >/dev/null || missing+=(bubblewrap)
[ -x /usr/bin/aws ] || missing+=(awscli)
/usr/bin/python3 -c 'import boto3' 2>/dev/null || missing+=(python3-boto3)
# Script mode: requirements.txt goes into a virtualenv with pip (the tests skip, saying so, without them).
/usr/bin/python3 -c 'import pip' 2>/dev/null || missing+=(python3-pip)
/usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
command -v setsid >/dev/null || missing+=(util-linux)
command -v npm >/dev/null || missing+=(nodejs npm)   # s3rver, the S3 server the tests use
# Container images: a real registry (with htpasswd auth), skopeo to push, podman and umoci as peers,
# mmdebstrap to build the Python test image, busybox-static for the small one.
for tool in docker-registry:docker-registry skopeo:skopeo umoci:umoci podman:podman runc:runc mmdebstrap:mmdebstrap htpasswd:apache2-utils; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
done
dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing ${missing[*]} (Debian packages)…"
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq "${missing[@]}" >/dev/null; fi
fi

for setup in "$root"/.ci/setup-*.sh; do
  [ -e "$setup" ] && bash "$setup"
done

log="$(mktemp)"
status=0
dotnet test Trainyard.slnx -c Release --nologo --logger "console;verbosity=normal" 2>&1 | tee "$log" || status=$?
# One plain closing line for whoever reads the log.
passed=$( (grep -Eo '^ *Passed: +[0-9]+' "$log" || true) | awk '{s+=$NF} END {print s+0}')
failed=$( (grep -Eo '^ *Failed: +[0-9]+' "$log" || true) | awk '{s+=$NF} END {print s+0}')
rm -f "$log"
echo "${passed:-0} passed, ${failed:-0} failed"
exit $status
