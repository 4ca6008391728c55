"""Forks workers while it is recorded with --follow-forks
(tests/e2e/test_follow_forks.py).

Prints "ready"; each SIGUSR1 starts one round: PARENT calls of
ff.funcs.work here, then WORKERS children forked with os.fork(), child k
(1-based) making k * 10 calls of ff.funcs.work and k calls of
ff.funcs.child_only before sys.exit(0) (so its agent detaches at exit), and
one more child that execs /bin/true (left alone); then
"round N children=PID,PID exec=PID".  SIGTERM ends it."""
import os
import signal
import sys
import time

from ff import funcs

PARENT, WORKERS = 5, 2
asked = []
signal.signal(signal.SIGUSR1, lambda s, f: asked.append(1))
print("ready", flush=True)


def worker(k):
    for i in range(k * 10):
        funcs.work(i)
    for i in range(k):
        funcs.child_only(i)
    sys.exit(0)


done = 0
while True:
    time.sleep(0.01)
    while done < len(asked):
        done += 1
        for i in range(PARENT):
            funcs.work(i)
        kids = []
        for k in range(1, WORKERS + 1):
            pid = os.fork()
            if pid == 0:
                worker(k)   # SystemExit unwinds to the top: a normal exit, atexit included
            kids.append(pid)
        ex = os.fork()
        if ex == 0:
            os.execv("/bin/true", ["true"])
        for pid in kids + [ex]:
            os.waitpid(pid, 0)
        print("round %d children=%s exec=%d" % (done, ",".join(map(str, kids)), ex), flush=True)
