"""A multiprocessing pool recorded with --follow-forks
(tests/e2e/test_follow_forks.py).  argv[1]: the start method, fork or
forkserver (whose server is started before "ready", so that a recording
with -p finds it).  Each SIGUSR1 runs one round, a Pool(2) mapping
ff.funcs.work over range(N); "round N pids=P:C,P:C" says how many items
each worker pid handled."""
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import sys
import time

from ff import funcs

N = 40


def task(i):
    funcs.work(i)
    return os.getpid()


def main():
    asked = []
    signal.signal(signal.SIGUSR1, lambda s, f: asked.append(1))
    ctx = multiprocessing.get_context(sys.argv[1])
    if sys.argv[1] == "forkserver":
        ctx.set_forkserver_preload(["ff.funcs"])
        multiprocessing.forkserver.ensure_running()
        warm = ctx.Process(target=task, args=(-1,))   # the server is up and serving
        warm.start()
        warm.join()
    print("ready", flush=True)
    done = 0
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
            print("round %d pids=%s" % (done, ",".join("%d:%d" % kv for kv in sorted(per.items()))),
                  flush=True)


if __name__ == "__main__":
    main()
