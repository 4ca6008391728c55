"""The workload of compare_bench.py, run under peeka-rec with `watch
compare_workload.target` and `watch compare_workload.other`: CALLS calls
of each, `target` doing SLOWDOWN times the work of `other` (1.0: the
unchanged code; 1.2: a 20% slowdown of that one function)."""
import sys

WORK = 3000


def spin(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


def target(n):
    return spin(n)


def other(n):
    return spin(n)


def main():
    slowdown, calls = float(sys.argv[1]), int(sys.argv[2])
    n = int(WORK * slowdown)
    for _ in range(calls):
        target(n)
        other(WORK)


if __name__ == "__main__":
    import compare_workload   # the probes name the module, not __main__
    compare_workload.main()
