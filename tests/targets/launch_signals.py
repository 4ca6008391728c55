"""Launch-mode target for signals passed on by peeka-rec: makes CALLS calls
of wt.funcs.add, prints "ready"; each SIGTERM, SIGINT or SIGHUP makes one
more call (wt.funcs.add(100 + n, 1)), prints "got SIG N" and, at the
LIMIT-th, exits with STATUS.  LIMIT 0: no handlers (the signal kills it).
    launch_signals.py CALLS LIMIT STATUS"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wt import funcs  # noqa: E402

calls, limit, status = (int(a) for a in sys.argv[1:4])
got = 0


def on_signal(sig, frame):
    global got
    got += 1
    funcs.add(100 + got, 1)
    # os.write: the signal may come while print("ready") is still flushing
    os.write(1, b"got %d %d\n" % (sig, got))
    if got == limit:
        sys.exit(status)


if limit:
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
for i in range(calls):
    funcs.add(i, 1)
print("ready", flush=True)
# Short sleeps: CPython runs a handler only between bytecodes, so a signal
# that lands after the last check before the sleep's syscall waits for the
# sleep to end.
while True:
    time.sleep(0.05)
