"""The workload of logcapture_bench.py: two loggers with the same counting
handler (propagation off), `bench.cap`, which peeka-rec captures, and
`bench.free`, which it does not (its records still go through peeka's
record factory and are passed over).  Each round times k calls of each,
in alternating order.  Prints one JSON line of per-round timings."""
import json
import logging
import sys
import time


class Count(logging.Handler):
    def __init__(self):
        logging.Handler.__init__(self)
        self.n = 0

    def emit(self, record):
        self.n += 1


def logger(name, handler):
    lg = logging.getLogger(name)
    lg.addHandler(handler)
    lg.setLevel(logging.INFO)
    lg.propagate = False
    return lg


def timed(lg, k):
    t = time.perf_counter()
    for i in range(k):
        lg.info("order %d of %s", i, "alice")
    return time.perf_counter() - t


def main():
    k, rounds = int(sys.argv[1]), int(sys.argv[2])
    handler = Count()
    cap, free = logger("bench.cap", handler), logger("bench.free", handler)
    out = []
    for i in range(rounds):
        pair = (("cap", cap), ("free", free)) if i % 2 else (("free", free), ("cap", cap))
        out.append({name: timed(lg, k) for name, lg in pair})
    print(json.dumps({"rounds": out, "handled": handler.n}), flush=True)


if __name__ == "__main__":
    main()
