"""Launch-mode target for signals passed on by peeka-rec: makes CALLS calls
of wt.funcs.add, prints "ready"; each SIGTERM, SIGINT or SIGHUP makes one
more call (wt.funcs.add(100 + n, 1)), prints "got SIG N" and, at the
LIMIT-th, exits with STATUS.  LIMIT 0: no handlers (the signal kills it).
N counts deliveries, not handler runs (CPython runs its handler once for
two signals that arrive before it gets to it): the wakeup fd gets one
byte per delivery.
    launch_signals.py CALLS LIMIT STATUS"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wt import funcs  # noqa: E402

calls, limit, status = (int(a) for a in sys.argv[1:4])
got = 0


wake_r, wake_w = os.pipe()
os.set_blocking(wake_r, False)
os.set_blocking(wake_w, False)


def on_signal(sig, frame):
    global got
    try:
        got += len(os.read(wake_r, 64))
    except BlockingIOError:
        pass
    funcs.add(100 + got, 1)
    # os.write: the signal may come while print("ready") is still flushing
    os.write(1, b"got %d %d\n" % (sig, got))
    if got >= limit:
        sys.exit(status)


if limit:
    signal.set_wakeup_fd(wake_w)
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
