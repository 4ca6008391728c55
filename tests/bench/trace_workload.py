"""The workload of trace_bench.py, run under peeka-rec with
`trace trace_workload.heavy` and `monitor trace_workload.mon`.  Each round
times the probed function and an identical unprobed twin back to back (and
the twin under cProfile), so machine noise hits every side alike.  Prints
one JSON line of per-round timings."""
import cProfile
import json
import sys
import time


def leaf(x):
    return x + 1


def mid(x):
    return leaf(x) + leaf(x)


def heavy(n):
    t = 0
    for i in range(n):
        t += mid(i)
    return t


def heavy_plain(n):
    t = 0
    for i in range(n):
        t += mid(i)
    return t


def mon(x):
    return x


def mon_plain(x):
    return x


def timed(f, *a):
    t = time.perf_counter()
    f(*a)
    return time.perf_counter() - t


def loop(f, k):
    for i in range(k):
        f(i)


def main():
    n, k, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    out = []
    for _ in range(rounds):
        r = {"plain": timed(heavy_plain, n), "traced": timed(heavy, n)}
        prof = cProfile.Profile()
        prof.enable()
        r["cprofile"] = timed(heavy_plain, n)
        prof.disable()
        r["mon_plain"] = timed(loop, mon_plain, k)
        r["mon"] = timed(loop, mon, k)
        out.append(r)
    print(json.dumps({"n": n, "k": k, "rounds": out}), flush=True)


if __name__ == "__main__":
    import trace_workload   # the probes name the module, not __main__
    trace_workload.main()
