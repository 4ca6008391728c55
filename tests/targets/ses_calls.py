"""Target for detached sessions and --ring: idle until SIGUSR2, then a burst
of N calls ses.work.step(i) with i counting on from the last burst (0, 1,
2, ... over the process's life), then "burst K done next=I".  No call of
step happens outside a burst.  With --exit-after B it exits with status 3
after burst B."""
import signal
import sys
import time

from ses import work

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
LAST = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[2] == "--exit-after" else 0
go = []
signal.signal(signal.SIGUSR2, lambda s, f: go.append(1))
print("ready", flush=True)
k = i = 0
while True:
    if go:
        go.pop()
        k += 1
        for _ in range(N):
            work.step(i)
            i += 1
        print("burst %d done next=%d" % (k, i), flush=True)
        if k == LAST:
            sys.exit(3)
    time.sleep(0.005)
