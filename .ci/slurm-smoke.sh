#!/usr/bin/env bash
# Smoke test for the Slurm test cluster: a 2-node job whose task 0 listens and task 1 connects, which
# is what a distributed training job needs. Node i listens on its own loopback address 127.0.0.(11+i)
# — the scheme the executor uses because all "nodes" of this one-machine cluster share 127.0.0.1 —
# on a port derived from the job id, so concurrent runs do not clash. Exits 0 and prints one line on
# success; non-zero with the job's output otherwise. Takes about 1-2 s.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/setup-slurm.sh" >/dev/null

work="$(mktemp -d /tmp/trainyard-slurm-smoke.XXXXXX)"
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"

cat >"$work/task.py" <<'PY'
import os, socket, sys, time
node = int(os.environ["SLURM_NODEID"])
port = 20000 + int(os.environ["SLURM_JOB_ID"]) % 20000
leader = ("127.0.0.11", port)
deadline = time.monotonic() + 8
if node == 0:
    srv = socket.create_server(leader)
    srv.settimeout(8)
    conn, peer = srv.accept()
    msg = conn.makefile().readline().strip()
    with open(os.path.join(os.environ["SMOKE_DIR"], "received"), "w") as f:
        f.write(f"{msg} (from {peer[0]})\n")
else:
    me = f"127.0.0.{11 + node}"
    while True:  # the leader may not be listening yet: retry until the deadline
        try:
            s = socket.create_connection(leader, timeout=2, source_address=(me, 0))
            break
        except OSError:
            if time.monotonic() > deadline: raise
            time.sleep(0.05)
    s.sendall(f"hello from task {os.environ['SLURM_PROCID']} on {os.environ['SLURMD_NODENAME']}\n".encode())
    s.close()
PY

started=$(date +%s.%N)
# Not `sbatch --wait`: it polls with a growing interval (2 s, then longer), which turns a 1 s job into
# a 6-10 s wait whenever the job misses the first poll.
job="$(SMOKE_DIR="$work" sbatch --parsable --no-requeue --job-name=trainyard-smoke \
        --nodes=2 --ntasks-per-node=1 --time=1 --output="$work/job.out" \
        --wrap "exec srun --kill-on-bad-exit=1 python3 $work/task.py")"
state=""
for _ in $(seq 600); do  # 60 s
  state="$(scontrol -o show job "$job" 2>/dev/null | grep -oE 'JobState=[A-Z_]+' | cut -d= -f2 || true)"
  case "$state" in PENDING|CONFIGURING|RUNNING|COMPLETING|"") sleep 0.1 ;; *) break ;; esac
done
if [ "$state" != COMPLETED ]; then
  scancel "$job" 2>/dev/null || true
  echo "slurm-smoke: FAILED: job $job ended as '${state:-still running after 60 s}'. Its output:" >&2
  cat "$work/job.out" >&2 || true
  exit 1
fi
got="$(cat "$work/received" 2>/dev/null || true)"
if [[ "$got" != "hello from task 1 on n"*" (from 127.0.0.12)" ]]; then
  echo "slurm-smoke: FAILED: expected task 1's message from 127.0.0.12, got '${got}'" >&2
  cat "$work/job.out" >&2 || true
  exit 1
fi
echo "slurm-smoke: ok, cross-node message '$got' in $(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"
