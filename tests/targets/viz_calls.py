"""Launch-mode target for the viewer scripts: the main thread calls
viz.work.handle HANDLES times (each: parse -> leaf once, render -> leaf
twice); a thread named worker-1 calls viz.work.tick TICKS times, after
the main thread is done, so the two never overlap.  A third argument
"fast": handle skips parse (a function gone, for differential graphs)."""
import sys
import threading

from viz import work

HANDLES, TICKS = int(sys.argv[1]), int(sys.argv[2])
FAST = sys.argv[3:] == ["fast"]


def worker():
    for i in range(TICKS):
        work.tick(i)


for i in range(HANDLES):
    work.handle(i, FAST)
t = threading.Thread(target=worker, name="worker-1")
t.start()
t.join()
print("viz done", flush=True)
