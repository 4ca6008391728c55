"""Target for detached sessions and --ring: idle until SIGUSR2, then a burst
of N calls ses.work.step(i) with i counting on from the last burst (0, 1,
2, ... over the process's life), then "burst K done next=I".  No call of
step happens outside a burst.  Launch mode: with --bursts B it makes B
bursts on its own, one every 0.2 s, and exits."""
import signal
import sys
import time

from ses import work

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
BURSTS = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[2] == "--bursts" else 0
go = []
signal.signal(signal.SIGUSR2, lambda s, f: go.append(1))
print("ready", flush=True)
k = i = 0
while True:
    if BURSTS and k < BURSTS:
        time.sleep(0.2)
        go.append(1)
    elif BURSTS:
        break
    if go:
        go.pop()
        k += 1
        for _ in range(N):
            work.step(i)
            i += 1
        print("burst %d done next=%d" % (k, i), flush=True)
    time.sleep(0.005)
