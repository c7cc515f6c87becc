#!/usr/bin/env bash
# Makes a real 4-node Slurm cluster appear on this one machine, for the Slurm executor's integration
# tests (issue 7). Idempotent: on a fresh Debian machine it installs slurm-wlm + munge, writes the
# configuration and starts munged, slurmctld and one slurmd per node; when the cluster is already up
# and healthy with the same configuration it exits within a second. Any failure exits non-zero with
# the daemons' logs, so ./test.sh never runs the Slurm tests against a half-started cluster.
#
# Environment (all optional):
#   SLURM_SETUP_TIMEOUT  seconds to wait for all nodes to become idle (default 60)
#   SLURM_SKIP           set to 1 to skip Slurm entirely (prints a notice, exits 0)
#
# The cluster is machine-wide (like any system service): every worktree and test run shares it.
# Stop it with .ci/stop-slurm.sh.
set -euo pipefail

if [ "${SLURM_SKIP:-0}" = 1 ]; then
  echo "setup-slurm: SLURM_SKIP=1, not starting Slurm (Slurm tests will fail or skip)."
  exit 0
fi

readonly NODES=(n1 n2 n3 n4)
readonly FIRST_PORT=17001
readonly CONF=/etc/slurm/slurm.conf
readonly LOG_DIR=/var/log/slurm
readonly RUN_DIR=/run/slurm
readonly SPOOL=/var/spool/slurm
readonly TIMEOUT="${SLURM_SETUP_TIMEOUT:-60}"
started_at=$(date +%s.%N)

say() { echo "setup-slurm: $*"; }
elapsed() { awk -v s="$started_at" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }

fail() {
  echo "setup-slurm: ERROR: $*" >&2
  # The logs are the only way to tell a munge problem from a config typo on a CI box.
  for f in "$LOG_DIR"/slurmctld.log "$LOG_DIR"/slurmd-*.log /var/log/munge/munged.log; do
    [ -f "$f" ] || continue
    echo "----- last lines of $f -----" >&2
    tail -n 25 "$f" >&2
  done
  if command -v sinfo >/dev/null; then
    echo "----- sinfo -----" >&2
    sinfo -N -l 2>&1 >&2 || true
  fi
  exit 1
}
trap 'fail "command failed at line $LINENO: $BASH_COMMAND"' ERR

[ "$(id -u)" -eq 0 ] || fail "must run as root (it installs packages and starts system daemons)"

# Two worktrees running ./test.sh at once must not both start daemons. The daemons are started with
# fd 9 closed (9>&-): a daemon that inherited it would hold the lock for as long as it runs.
exec 9>/run/lock/trainyard-slurm-setup.lock
flock -w 120 9 || fail "another setup-slurm.sh held /run/lock/trainyard-slurm-setup.lock for 2 minutes"

# --- packages ------------------------------------------------------------------------------------
missing=()
for c in slurmctld slurmd sbatch sinfo scontrol; do command -v "$c" >/dev/null || { missing+=(slurm-wlm); break; }; done
command -v munged >/dev/null || missing+=(munge)
command -v ps >/dev/null || missing+=(procps)  # minimal images lack it; the liveness checks use ps
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]} (Debian packages)…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || fail "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || fail "apt-get install ${missing[*]} failed"
fi

# --- configuration -------------------------------------------------------------------------------
# Addresses are explicit (127.0.0.1) so nothing depends on how this machine resolves its own name.
host="$(hostname -s)"
last_port=$((FIRST_PORT + ${#NODES[@]} - 1))
wanted_conf="$(cat <<EOF
# Written by Trainyard's .ci/setup-slurm.sh — a ${#NODES[@]}-node test cluster on one machine.
# Edits here are overwritten on the next run of the script.
ClusterName=trainyard
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none

# No cgroups on these machines: track processes by parent pid, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# Declared CPUs/memory exceed the real machine on purpose (4 nodes x 4 CPUs on 2 cores).
SlurmdParameters=config_overrides

SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
# Start batch jobs as soon as they are submitted (~0.5 s instead of ~3 s).
SchedulerParameters=batch_sched_delay=0

# SIGTERM -> SIGKILL gap of Slurm's own kills (scancel JOBID, time limit, node failure). It is not
# Trainyard's grace period: the host runtime delivers SIGTERM, waits the job's grace (120 s by
# default) and SIGKILLs the algorithm itself; see docs/slurm-notes.md.
KillWait=30
# Finished jobs stay visible to squeue/scontrol for this long (no slurmdbd, so no sacct): long enough
# for a restarted Trainyard server to read the final state of jobs that ended while it was down.
MinJobAge=3600
# A slurmd that stops answering is declared DOWN (and its jobs NODE_FAIL) after this long.
SlurmdTimeout=30
# A node that was DOWN comes back by itself as soon as its slurmd registers again.
ReturnToService=2
InactiveLimit=0
Waittime=0

StateSaveLocation=${SPOOL}/ctld
SlurmdSpoolDir=${SPOOL}/d-%n
SlurmctldPidFile=${RUN_DIR}/slurmctld.pid
SlurmdPidFile=${RUN_DIR}/slurmd-%n.pid
SlurmctldLogFile=${LOG_DIR}/slurmctld.log
SlurmdLogFile=${LOG_DIR}/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info

# No slurmdbd: no accounting, no sacct.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none

NodeName=n[1-${#NODES[@]}] NodeHostname=${host} NodeAddr=127.0.0.1 Port=[${FIRST_PORT}-${last_port}] CPUs=4 RealMemory=4000 State=UNKNOWN
PartitionName=trainyard Nodes=n[1-${#NODES[@]}] Default=YES MaxTime=INFINITE State=UP
EOF
)"

conf_changed=0
if [ ! -f "$CONF" ] || [ "$(cat "$CONF")" != "$wanted_conf" ]; then
  conf_changed=1
fi

# --- health --------------------------------------------------------------------------------------
# A pid file counts only if its process exists, is not a zombie (PID 1 here reaps lazily, so a killed
# daemon lingers as a zombie for a while) and is the daemon named (the pid may have been reused).
pid_alive() {
  local pid state
  [ -f "$1" ] && pid="$(cat "$1")" && [ -n "$pid" ] || return 1
  state="$(ps -o stat=,comm= -p "$pid" 2>/dev/null)" || return 1
  [[ "$state" != Z* && "$state" == *" $2"* ]]
}
munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }
# Healthy = every node answers and is usable; busy nodes (jobs of other test runs) count as healthy.
nodes_usable() {
  local states
  states="$(sinfo -h -N -p trainyard -o '%N %T' 2>/dev/null)" || return 1
  [ "$(grep -cE '^n[0-9]+ (idle|allocated|mixed|completing)$' <<<"$states")" -eq "${#NODES[@]}" ]
}
all_slurmd_alive() {
  local n
  for n in "${NODES[@]}"; do pid_alive "$RUN_DIR/slurmd-$n.pid" slurmd || return 1; done
}

if [ "$conf_changed" = 0 ] && munge_ok && pid_alive "$RUN_DIR/slurmctld.pid" slurmctld && all_slurmd_alive \
   && nodes_usable; then
  say "already running and healthy ($(elapsed) s)."
  exit 0
fi

# --- (re)start -----------------------------------------------------------------------------------
if [ "$conf_changed" = 1 ] && { pid_alive "$RUN_DIR/slurmctld.pid" slurmctld || ls "$RUN_DIR"/slurmd-*.pid >/dev/null 2>&1; }; then
  say "configuration changed: restarting the Slurm daemons."
  bash "$(dirname "${BASH_SOURCE[0]}")/stop-slurm.sh" --keep-munge 9>&-
fi

install -d -m 0755 /etc/slurm "$LOG_DIR" "$RUN_DIR" "$SPOOL"
install -d -m 0700 "$SPOOL/ctld"
for n in "${NODES[@]}"; do install -d -m 0755 "$SPOOL/d-$n"; done
if [ "$conf_changed" = 1 ]; then
  printf '%s\n' "$wanted_conf" >"$CONF.tmp" && mv "$CONF.tmp" "$CONF"
fi

# munge: Debian's postinst normally creates the key; a missing or empty one is created here.
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  say "creating /etc/munge/munge.key"
  if command -v mungekey >/dev/null; then mungekey --create --force --keyfile=/etc/munge/munge.key
  else dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none; fi
fi
chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
if ! munge_ok; then
  pid_alive /run/munge/munged.pid munged && kill "$(cat /run/munge/munged.pid)" && sleep 0.2
  # munged refuses to share its socket directory with root; it runs as its own user.
  runuser -u munge -- /usr/sbin/munged 9>&- || fail "munged did not start"
  for _ in $(seq 50); do munge_ok && break; sleep 0.1; done
  munge_ok || fail "munge -n | unmunge fails after starting munged"
fi

if ! pid_alive "$RUN_DIR/slurmctld.pid" slurmctld; then
  slurmctld 9>&- || fail "slurmctld did not start"
fi
for _ in $(seq 100); do scontrol ping 2>/dev/null | grep -q 'is UP' && break; sleep 0.1; done
scontrol ping 2>/dev/null | grep -q 'is UP' || fail "slurmctld does not answer 'scontrol ping'"

# slurmd daemonizes before it binds its port, so "started" proves little: wait below until each node
# we start has registered with slurmctld since now (a restarted slurmctld reports the nodes it
# remembers as idle before any slurmd has spoken to it).
launched=() launch_time=$(date +%s)
for n in "${NODES[@]}"; do
  if ! pid_alive "$RUN_DIR/slurmd-$n.pid" slurmd; then
    slurmd -N "$n" 9>&- || fail "slurmd -N $n did not start"
    launched+=("$n")
  fi
done
registered() {
  local n t
  for n in "${launched[@]}"; do
    t="$(scontrol -o show node "$n" 2>/dev/null | grep -oE 'SlurmdStartTime=[^ ]+' | cut -d= -f2)"
    [ -n "$t" ] && [ "$t" != None ] && [ "$(date -d "$t" +%s 2>/dev/null || echo 0)" -ge "$((launch_time - 1))" ] || return 1
  done
}

# Wait for every node to register. ReturnToService=2 brings a DOWN node back when its slurmd
# registers; a node left DRAINED, or set DOWN while its slurmd kept running (by an earlier test or by
# hand), needs an explicit resume. Busy nodes (jobs of another test run that survived a daemon
# restart) are fine once they answer.
deadline=$(( $(date +%s) + TIMEOUT ))
until all_slurmd_alive && registered && nodes_usable; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    for n in "${NODES[@]}"; do pid_alive "$RUN_DIR/slurmd-$n.pid" slurmd || echo "setup-slurm: slurmd -N $n is not running" >&2; done
    fail "the ${#NODES[@]} nodes were not all registered and idle within ${TIMEOUT} s"
  fi
  if registered; then
    stuck="$(sinfo -h -N -p trainyard -t drain,down,fail -o '%N' 2>/dev/null | sort -u | paste -sd, -)"
    if [ -n "$stuck" ]; then
      say "resuming node(s) $stuck ($(sinfo -h -N -n "$stuck" -o '%N: %T %E' | sort -u | paste -sd';' -))"
      scontrol update nodename="$stuck" state=resume || true
    fi
  fi
  sleep 0.2
done

say "cluster 'trainyard' up: ${#NODES[@]} nodes on $host, ports ${FIRST_PORT}-${last_port} ($(elapsed) s)."
