"""Attach-mode target for the recorder's size limits: idle until SIGUSR2,
then a burst of N calls of wt.funcs.add with ~1 KB arguments (so the agent
builds large record batches), then "burst K done calls=N agent=BOOL"
(BOOL: whether an agent module was ever loaded into this process).
No call of wt.funcs.add happens outside a burst."""
import signal
import sys
import time

from wt import funcs

N = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
go = []
signal.signal(signal.SIGUSR2, lambda s, f: go.append(1))
payload = "p" * 900
print("ready", flush=True)
k = 0
while True:
    if go:
        go.pop()
        k += 1
        for i in range(N):
            funcs.add(payload, str(i))
        print("burst %d done calls=%d agent=%s" % (k, N, "_peeka_agent" in sys.modules), flush=True)
    time.sleep(0.005)
