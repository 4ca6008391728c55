"""The workload timed by watch_bench.py.  Prints one JSON line of timings.

  grounds N SECONDS: times N calls of g, round after round, while the
            driver attaches peeka-rec (watching f, never called) meanwhile
  rounds N SECONDS: times N calls each of f and f wrapped by a
            Python-level watcher doing the agent's job (time the call,
            format args and result, queue a dict; a thread serialises it
            to JSON and writes it out), round after round; the driver
            attaches peeka-rec (watching f) in the middle
  flood N:  N calls of f as fast as possible (launched under peeka-rec)
  paced RATE SECONDS: RATE calls of f per second
"""
import json
import os
import queue
import sys
import threading
import time

from bench_funcs import f, g


def python_watcher(fn, sink):
    q = queue.SimpleQueue()

    done = threading.Event()

    def drain():
        while True:
            item = q.get()
            if item is None:
                return
            if item == "flush":
                done.set()
                continue
            sink.write(json.dumps(item) + "\n")

    t = threading.Thread(target=drain, daemon=True)
    t.start()

    def wrapper(*args, **kwargs):
        t0 = time.perf_counter_ns()
        result = fn(*args, **kwargs)
        cost = time.perf_counter_ns() - t0
        q.put({"type": "observation", "kind": "watch", "ts_ns": time.time_ns(),
               "func_name": fn.__module__ + "." + fn.__qualname__, "location": "AtExit",
               "params": [repr(a) if not isinstance(a, (int, float, str)) else a for a in args],
               "kwargs": {k: repr(v) for k, v in kwargs.items()}, "returnObj": result,
               "success": True, "throwExp": None, "cost": round(cost / 1e6, 3), "cost_ns": cost,
               "thread_id": threading.get_ident(), "thread_name": threading.current_thread().name})
        return result
    def flush():
        """Waits until the serialiser caught up: its work needs the GIL, so
        it is the application's cost too, and must not spill into the next
        measurement."""
        done.clear()
        q.put("flush")
        done.wait()

    wrapper.stop = lambda: (q.put(None), t.join())
    wrapper.flush = flush
    return wrapper


def loop(fn, n):
    t0 = time.perf_counter()
    for i in range(n):
        fn(i, 2)
    if hasattr(fn, "flush"):
        fn.flush()
    return time.perf_counter() - t0


def main():
    mode, n, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    out = {"n": n}
    if mode == "flood":             # as many observed calls as possible, once
        out["f"] = loop(f, n)
    elif mode == "paced":             # n calls per second for `reps` seconds
        batch = 1000
        t0 = time.perf_counter()
        done = 0
        while done < n * reps:
            for i in range(batch):
                f(i, 2)
            done += batch
            ahead = t0 + done / n - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
        out["f"] = time.perf_counter() - t0
        out["calls"] = done
    elif mode in ("rounds", "grounds"):   # the driver attaches meanwhile
        with open(os.devnull, "w") as sink:
            w = python_watcher(f, sink)
            print("ready", flush=True)
            rounds = []
            end = time.monotonic() + reps
            while time.monotonic() < end:
                agent = sys.modules.get("_peeka_agent")
                r = {"active": bool(agent and agent.status()["active"])}
                if mode == "rounds":
                    r.update(f=loop(f, n), pywrap=loop(w, n))
                else:   # only g: no record traffic competes for the CPUs
                    r.update(g=loop(g, n))
                rounds.append(r)
            w.stop()
        out["rounds"] = rounds
    print(json.dumps(out), flush=True)


main()
