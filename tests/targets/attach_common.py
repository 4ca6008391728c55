"""Helpers shared by the attach_*.py targets of tests/unit/test_attach.c.

Every target takes READY_FILE SECONDS [MODE]: it creates READY_FILE when it
has reached its steady state, runs for SECONDS, checks that what it did was
not disturbed (sleeps lasted their full time, computations are right) and
prints "ok" as its last line, or "FAIL <why>" and exits 1.
"""
import os
import sys
import time


def args():
    ready, seconds = sys.argv[1], float(sys.argv[2])
    mode = sys.argv[3] if len(sys.argv) > 3 else ""
    return ready, seconds, mode


def ready(path):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(os.getpid()))
    os.rename(tmp, path)


def finish(ok, why=""):
    sys.stdout.write("ok\n" if ok else "FAIL %s\n" % why)
    sys.stdout.flush()
    sys.exit(0 if ok else 1)


def heartbeat(n):
    sys.stdout.write("beat %d\n" % n)
    sys.stdout.flush()


def check_slept(t0, seconds, what):
    elapsed = time.monotonic() - t0
    if elapsed < seconds:
        finish(False, "%s returned after %.3fs of %.3fs" % (what, elapsed, seconds))
