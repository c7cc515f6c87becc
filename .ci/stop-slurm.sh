#!/usr/bin/env bash
# Stops the test cluster started by .ci/setup-slurm.sh: every slurmd, slurmctld and munged.
#   --keep-munge  leave munged running (setup-slurm.sh uses this when only the config changed)
#   --purge       also forget Slurm's saved state (jobs, node states) and logs, for a fresh start
# Running jobs are not cancelled: their slurmstepd and task processes outlive slurmd. When a slurmd for
# that node registers again, slurmctld has it SIGTERM them (SIGKILL after KillWait). To end them now,
# scancel them before stopping.
set -euo pipefail

keep_munge=0 purge=0
for arg in "$@"; do
  case "$arg" in
    --keep-munge) keep_munge=1 ;;
    --purge) purge=1 ;;
    *) echo "usage: $0 [--keep-munge] [--purge]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "stop-slurm: must run as root" >&2; exit 1; }

# Running and not a zombie (PID 1 here reaps lazily) and still the daemon named: pids get reused.
alive() { local st; st="$(ps -o stat=,comm= -p "$1" 2>/dev/null)" && [[ "$st" != Z* && "$st" == *" $2"* ]]; }

# Signal by pid file only, so nothing else on the machine that happens to match a name is touched.
# All daemons of one kind get SIGTERM together (a slurmd takes ~2 s to shut down), then we wait.
stop_all() {
  local name="$1" f pid pids=() files=()
  shift
  for f in "$@"; do
    [ -f "$f" ] || continue
    files+=("$f")
    pid="$(cat "$f")"
    if [ -n "$pid" ] && alive "$pid" "$name"; then kill -TERM "$pid" 2>/dev/null || true; pids+=("$pid"); fi
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 100); do alive "$pid" "$name" || break; sleep 0.1; done
    if alive "$pid" "$name"; then
      echo "stop-slurm: $name (pid $pid) ignored SIGTERM for 10 s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  [ ${#files[@]} -eq 0 ] || rm -f "${files[@]}"
}

stop_all slurmd /run/slurm/slurmd-*.pid
stop_all slurmctld /run/slurm/slurmctld.pid
[ "$keep_munge" = 1 ] || stop_all munged /run/munge/munged.pid

if [ "$purge" = 1 ]; then
  rm -rf /var/spool/slurm /var/log/slurm
fi
echo "stop-slurm: stopped."
