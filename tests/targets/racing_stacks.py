"""Target of tests/unit/test_remote_stacks.c: three threads whose stacks
never stop changing (recursions of changing depth, through code objects
compiled, run and freed all the time) while the main thread sleeps on a
known line.  Writes that line into the file READY when all run."""
import random
import sys
import threading
import time


def down(n):
    if n:
        return down(n - 1)
    return 0


def churn(seed):
    rnd = random.Random(seed)
    while True:
        down(rnd.randrange(40))
        ns = {}
        exec("def fresh_%d(f, n):\n    return f(n)\n" % rnd.randrange(1000), ns)
        fn = next(v for k, v in ns.items() if k.startswith("fresh_"))
        fn(down, rnd.randrange(20))


for i in range(3):
    threading.Thread(target=churn, args=(i,), daemon=True).start()
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(sys._getframe().f_lineno + 3))
import os  # noqa: E402
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(3600)
