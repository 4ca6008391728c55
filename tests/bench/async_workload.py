"""The workload timed by async_bench.py, in rounds for SECONDS while the
driver attaches and detaches (watching af); prints "ready" first and one
JSON line of rounds at the end.  Usage: async_workload.py MODE N SECONDS

  awaits      N awaits each of af, of its unwatched twin, and of the twin
              awaited through a Python coroutine
  unobserved  N calls and N raise-and-catch (one frame deep) of functions
              nothing watches; af is never called"""
import asyncio
import json
import sys
import time

from async_funcs import af, af_plain, g, raiser, wrap


async def awaits(fn, n, wrapped):
    t0 = time.perf_counter()
    if wrapped:
        for i in range(n):
            await wrap(fn(i))
    else:
        for i in range(n):
            await fn(i)
    return time.perf_counter() - t0


def calls(n):
    t0 = time.perf_counter()
    for i in range(n):
        g(i, 2)
    return time.perf_counter() - t0


def raises(n):
    t0 = time.perf_counter()
    for i in range(n):
        try:
            raiser(i)
        except ValueError:
            pass
    return time.perf_counter() - t0


def main():
    mode, n, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    print("ready", flush=True)
    rounds = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        agent = sys.modules.get("_peeka_agent")
        r = {"active": bool(agent and agent.status()["active"])}
        if mode == "awaits":
            r.update(watched=asyncio.run(awaits(af, n, False)), plain=asyncio.run(awaits(af_plain, n, False)),
                     pywrap=asyncio.run(awaits(af_plain, n, True)))
        else:
            r.update(calls=calls(n), raises=raises(n))
        rounds.append(r)
    print(json.dumps({"n": n, "rounds": rounds}), flush=True)


main()
