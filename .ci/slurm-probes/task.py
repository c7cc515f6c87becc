#!/usr/bin/env python3
# Logs every signal it receives and a heartbeat; ignores TERM unless EXIT_ON_TERM=1.
import os, signal, sys, time
env = os.environ
path = f"{env['LOGDIR']}/task{env.get('SLURM_PROCID','x')}.log"
who = f"task{env.get('SLURM_PROCID')} node{env.get('SLURM_NODEID')}({env.get('SLURMD_NODENAME')}) pid{os.getpid()}"
def log(msg):
    with open(path, "a") as f: f.write(f"{time.time():.3f} {who} {msg}\n")
def handler(sig, frame):
    log(f"got {signal.Signals(sig).name}")
    if sig == signal.SIGTERM and env.get("EXIT_ON_TERM") == "1":
        log("exiting 143"); sys.exit(143)
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGCONT):
    signal.signal(s, handler)
log(f"start ppid={os.getppid()} pgid={os.getpgid(0)} sid={os.getsid(0)}")
while True:
    log("beat"); time.sleep(0.5)
