#!/usr/bin/env python3
# A stand-in for the host runtime: starts the "algorithm" (task.py) as a child in its own process
# group / session (as a sandbox would), logs the signals it gets itself.
import os, signal, subprocess, sys, time
env = os.environ
path = f"{env['LOGDIR']}/host{env.get('SLURM_PROCID')}.log"
def log(m):
    with open(path, "a") as f: f.write(f"{time.time():.3f} host{env.get('SLURM_PROCID')} pid{os.getpid()} {m}\n")
for s in (signal.SIGTERM, signal.SIGCONT, signal.SIGINT):
    signal.signal(s, lambda sig, fr: log(f"got {signal.Signals(sig).name}"))
mode = env.get("CHILD_MODE", "same")
child = subprocess.Popen([os.path.join(os.path.dirname(os.path.abspath(__file__)), "task.py")], start_new_session=(mode == "session"))
log(f"started child {child.pid} mode={mode}")
while child.poll() is None: time.sleep(0.2)
log(f"child exited {child.returncode}")
