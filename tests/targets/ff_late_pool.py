"""A multiprocessing pool whose processes all start while the target is
recorded with --follow-forks (tests/e2e/test_follow_forks_exec.py).
argv[1]: the start method (forkserver or spawn: each a fresh interpreter
started by exec).  Each SIGUSR1 runs one round, a new Pool(2) mapping
ff.funcs.work over range(N); "round N pids=P:C,P:C server=S" says how many
items each worker pid handled, their parents and, for forkserver, the
server's pid.  SIGINT or SIGTERM ends it."""
import multiprocessing
import os
import signal
import sys
import time

from ff import funcs

N = 40


def task(i):
    funcs.work(i)
    return os.getpid(), os.getppid()


def server_pid(method):
    if method != "forkserver":
        return 0
    from multiprocessing import forkserver
    return forkserver._forkserver._forkserver_pid or 0


def main():
    asked = []
    signal.signal(signal.SIGUSR1, lambda s, f: asked.append(1))
    signal.signal(signal.SIGINT, lambda s, f: sys.exit(0))   # peeka-rec passes its SIGINT on
    ctx = multiprocessing.get_context(sys.argv[1])
    print("ready", flush=True)
    done = 0
    while True:
        time.sleep(0.01)
        while done < len(asked):
            done += 1
            with ctx.Pool(2) as pool:
                got = pool.map(task, range(N), chunksize=1)
                pool.close()
                pool.join()
            per = {}
            for pid, _ in got:
                per[pid] = per.get(pid, 0) + 1
            parents = sorted({pp for _, pp in got})
            print("round %d pids=%s parents=%s server=%d" % (
                done, ",".join("%d:%d" % kv for kv in sorted(per.items())),
                ",".join(map(str, parents)), server_pid(sys.argv[1])), flush=True)


if __name__ == "__main__":
    main()
