"""Target for --lossless (tests/e2e/test_lossless.py): wt.funcs.add(i, 2)
called N times at full speed, nothing else.

  lossless_loop.py N          N calls, then "done calls=N sum=S"
  lossless_loop.py N bursts   "ready", then idle until SIGUSR2; each signal
                              makes a burst of N calls, then
                              "burst K done calls=N sum=S"
S is the sum of the results: every call returned what it should."""
import signal
import sys
import time

from wt import funcs


def burst(n):
    s = 0
    for i in range(n):
        s += funcs.add(i, 2)
    return s


N = int(sys.argv[1])
if len(sys.argv) < 3:
    print("done calls=%d sum=%d" % (N, burst(N)), flush=True)
    sys.exit(0)
go = []
signal.signal(signal.SIGUSR2, lambda s, f: go.append(1))
print("ready", flush=True)
k = 0
while True:
    if go:
        go.pop()
        k += 1
        print("burst %d done calls=%d sum=%d" % (k, N, burst(N)), flush=True)
    time.sleep(0.005)
