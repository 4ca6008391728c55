"""A multiprocessing pool with the fork start method, recorded with
--follow-forks (tests/e2e/test_follow_forks.py): each SIGUSR1 runs one
round, a Pool(2) mapping ff.funcs.work over range(N); "round N pids=P:C,P:C"
says how many items each worker pid handled."""
import multiprocessing
import os
import signal
import time

from ff import funcs

N = 40
asked = []
signal.signal(signal.SIGUSR1, lambda s, f: asked.append(1))


def task(i):
    funcs.work(i)
    return os.getpid()


print("ready", flush=True)
done = 0
ctx = multiprocessing.get_context("fork")
while True:
    time.sleep(0.01)
    while done < len(asked):
        done += 1
        with ctx.Pool(2) as pool:
            pids = pool.map(task, range(N), chunksize=1)
            pool.close()
            pool.join()
        per = {}
        for p in pids:
            per[p] = per.get(p, 0) + 1
        print("round %d pids=%s" % (done, ",".join("%d:%d" % kv for kv in sorted(per.items()))), flush=True)
