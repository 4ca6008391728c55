"""The workload of top_bench.py: a CPU-bound loop in one thread that
prints, for each chunk of work, its end time and how long it took (JSON
per line), until killed."""
import json
import sys
import time


def work(n):
    t = 0
    for i in range(n):
        t += i * i % 7
    return t


def main():
    n = int(sys.argv[1])
    out = sys.stdout
    print("ready", flush=True)
    while True:
        t0 = time.perf_counter()
        work(n)
        t1 = time.perf_counter()
        out.write(json.dumps([time.monotonic(), t1 - t0]) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
