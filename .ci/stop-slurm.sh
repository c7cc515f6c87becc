#!/usr/bin/env bash
# Stops the test cluster started by .ci/setup-slurm.sh: every slurmd, slurmctld and munged.
#   --keep-munge  leave munged running (setup-slurm.sh uses this when only the config changed)
#   --purge       also forget Slurm's saved state (jobs, node states) and logs, for a fresh start
# Jobs still running are not cancelled first: their slurmstepd processes would outlive slurmd, so
# cancel them (scancel -u root) before stopping if that matters.
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
stop_pidfile() {
  local f="$1" name="$2" pid
  [ -f "$f" ] || return 0
  pid="$(cat "$f")"
  if [ -n "$pid" ] && alive "$pid" "$name"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do alive "$pid" "$name" || break; sleep 0.1; done
    if alive "$pid" "$name"; then
      echo "stop-slurm: pid $pid ($f) ignored SIGTERM for 10 s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$f"
}

for f in /run/slurm/slurmd-*.pid; do [ -e "$f" ] && stop_pidfile "$f" slurmd; done
stop_pidfile /run/slurm/slurmctld.pid slurmctld
[ "$keep_munge" = 1 ] || stop_pidfile /run/munge/munged.pid munged

if [ "$purge" = 1 ]; then
  rm -rf /var/spool/slurm /var/log/slurm
fi
echo "stop-slurm: stopped."
