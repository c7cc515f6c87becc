#!/usr/bin/env bash
# Repeats the scancel measurements of docs/slurm-notes.md ("How a training job is stopped"): submits a 2-node job whose batch script
# is `exec srun <probe>`, runs the given commands once both tasks are up ($J = the job id), waits for
# the job to end (at most 60 s) and prints a timeline of every signal each process got, relative to
# the first command. The probes ignore SIGTERM (EXIT_ON_TERM=1 makes them exit 143) so that a later
# SIGKILL shows as the last heartbeat.
#   usage: signal-probe.sh [--tree] 'scancel --signal=TERM $J' 'sleep 3' 'scancel --signal=KILL $J.0'
#   --tree: the task is parent.py (a stand-in host runtime) which runs task.py as its child
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
probe="$here/task.py"
if [ "${1:-}" = --tree ]; then probe="$here/parent.py"; shift; fi
[ $# -gt 0 ] || { sed -n '2,9p' "$0"; exit 2; }

LOGDIR="$(mktemp -d /tmp/trainyard-signal-probe.XXXXXX)"
export LOGDIR EXIT_ON_TERM="${EXIT_ON_TERM:-0}"
chmod 755 "$LOGDIR"
j="$(sbatch --parsable --no-requeue --nodes=2 --ntasks-per-node=1 --output="$LOGDIR/batch.out" \
      --wrap "exec srun --output=$LOGDIR/srun-%t.out $probe")"
for _ in $(seq 300); do [ -f "$LOGDIR/task0.log" ] && [ -f "$LOGDIR/task1.log" ] && break; sleep 0.1; done
sleep 1
t0=$(date +%s.%N)
for c in "$@"; do
  c="${c//\$J/$j}"
  echo "$(date +%s.%N) CONTROL $c" >>"$LOGDIR/control.log"
  eval "$c"
done
state=""
for _ in $(seq 600); do
  state="$(scontrol -o show job "$j" 2>/dev/null | grep -oE 'JobState=[A-Z_]+' | cut -d= -f2 || true)"
  case "$state" in PENDING|CONFIGURING|RUNNING|COMPLETING|"") sleep 0.1 ;; *) break ;; esac
done
sleep 0.5
echo "$(date +%s.%N) CONTROL end: $(scontrol -o show job "$j" | grep -oE '(JobState|Reason|ExitCode)=[^ ]+' | paste -sd' ' -)" >>"$LOGDIR/control.log"
# Still running after 60 s (the probes ignore SIGTERM): end it so it does not hold two nodes.
if [ "$state" = RUNNING ]; then scancel --signal=KILL "$j.0" 2>/dev/null || true; fi

echo "job $j, logs in $LOGDIR; seconds relative to the first command:"
cat "$LOGDIR"/*.log | sort -n | awk -v t0="$t0" '
  $NF != "beat" { $1 = sprintf("%+7.2f", $1 - t0); print; next }
  { last[$2] = sprintf("%+7.2f", $1 - t0) }
  END { for (k in last) print "  last heartbeat of " k " at " last[k] }'
sed 's/^/  output: /' "$LOGDIR"/batch.out "$LOGDIR"/srun-*.out 2>/dev/null || true
