"""A multiprocessing pool recorded with --follow-forks
(tests/e2e/test_follow_forks.py, test_follow_forks_exec.py).  argv[1]: the
start method, fork, forkserver or spawn; with forkserver and no argv[2]
the server is started before "ready", so that a recording with -p finds
it; argv[2] "late": nothing is started before the first round, so every
process of the pool starts while the recording runs.  Each SIGUSR1 runs
one round, a new Pool(2) mapping ff.funcs.work over range(N); "round N
pids=P:C,P:C parents=P server=S peeka=K" says how many items each worker
pid handled, the workers' parents, the forkserver's pid (0 for the other
methods) and how many of peeka's wrappers and hooks are in place here.  SIGINT (peeka-rec passes its own on) or SIGTERM ends it."""
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
    return os.getpid(), os.getppid()


def server_pid(method):
    if method != "forkserver":
        return 0
    return multiprocessing.forkserver._forkserver._forkserver_pid or 0


def peeka_left():
    """What a recording with --follow-forks puts in place here while it runs:
    its wrapper of spawnv_passfds, its import hook."""
    import multiprocessing.util
    wrapped = not isinstance(multiprocessing.util.spawnv_passfds, type(peeka_left))
    return wrapped + sum(type(f).__name__ == "PeekaPendingFinder" for f in sys.meta_path)


def main():
    asked = []
    signal.signal(signal.SIGUSR1, lambda s, f: asked.append(1))
    signal.signal(signal.SIGINT, lambda s, f: sys.exit(0))
    method = sys.argv[1]
    ctx = multiprocessing.get_context(method)
    if method == "forkserver" and sys.argv[2:] != ["late"]:
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
                got = pool.map(task, range(N), chunksize=1)
                pool.close()
                pool.join()
            per = {}
            for pid, _ in got:
                per[pid] = per.get(pid, 0) + 1
            print("round %d pids=%s parents=%s server=%d peeka=%d" % (
                done, ",".join("%d:%d" % kv for kv in sorted(per.items())),
                ",".join(map(str, sorted({pp for _, pp in got}))), server_pid(method), peeka_left()),
                flush=True)


if __name__ == "__main__":
    main()
