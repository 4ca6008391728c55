"""A program that pre-installs peeka's agent (tests/e2e/test_installed.py).

argv: MODE [RELEASE].  MODE is a comma-separated set of:
  install     import peeka_agent; peeka_agent.install() (PYTHONPATH has it)
  nodump      prctl(PR_SET_DUMPABLE, 0) first: nobody can ptrace it
  ownhandler  an application SIGUSR2 handler set before install(); it
              prints "app SIGUSR2" whenever it is called
Each SIGUSR1 asks for one round: WORK calls of inst.funcs.work and OTHER of
inst.funcs.other (one round with `stuck` in MODE calls inst.funcs.stuck
with an inst.funcs.Slow instead), then "round N installed=B threads=T".
SIGTERM ends it."""
import ctypes
import os
import signal
import sys
import threading
import time

from inst import funcs

WORK, OTHER = 7, 3
mode = set(sys.argv[1].split(","))
funcs.Slow.release = sys.argv[2] if len(sys.argv) > 2 else None
asked = []


def say(line):
    print(line, flush=True)


if "nodump" in mode:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(4, 0, 0, 0, 0) != 0:   # PR_SET_DUMPABLE
        raise OSError(ctypes.get_errno(), "prctl")
if "ownhandler" in mode:
    signal.signal(signal.SIGUSR2, lambda s, f: say("app SIGUSR2"))
fds_before = len(os.listdir("/proc/self/fd"))
if "install" in mode:
    import peeka_agent
    peeka_agent.install()
    installed = peeka_agent.is_installed
else:
    installed = lambda: False
signal.signal(signal.SIGUSR1, lambda s, f: asked.append(1))
say("ready pid=%d installed=%s threads=%d fds_added=%d" % (
    os.getpid(), installed(), threading.active_count(),
    len(os.listdir("/proc/self/fd")) - fds_before))
done = 0
while True:
    time.sleep(0.01)
    while done < len(asked):
        done += 1
        if "stuck" in mode and done == 1:
            funcs.stuck(funcs.Slow())
        else:
            for i in range(WORK):
                funcs.work(i)
            for i in range(OTHER):
                funcs.other(i, b=i)
        say("round %d installed=%s threads=%d" % (done, installed(), threading.active_count()))
