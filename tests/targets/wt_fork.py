"""Forks while being recorded: the child's calls must not be recorded or
slowed by the parent's agent, and the child must exit cleanly."""
import os
import sys
import time

from wt import funcs

print("ready", flush=True)
time.sleep(float(sys.argv[1]))        # the recorder attaches meanwhile
pid = os.fork()
if pid == 0:
    t0 = time.perf_counter()
    for i in range(20000):
        funcs.add(i, 1)
    agent = sys.modules.get("_peeka_agent")
    status = agent.status() if agent else {}
    print("child active=%s" % status.get("active"), flush=True)
    os._exit(0)
os.waitpid(pid, 0)
for i in range(50):
    funcs.add(i, 2)
print("parent done", flush=True)
time.sleep(5)
