#!/usr/bin/env python3
"""make bench: watch on an async def, per interpreter, as differences and
ratios against rounds of the same process before and after the attach:
- added per watched coroutine call (awaited to its end, record written),
  next to what awaiting it through a Python coroutine alone costs (how
  watch followed coroutines before: the floor of that way);
- unobserved calls and unobserved raise-and-catch while an async def is
  watched, against the rounds without the agent; target: < 1.02x (3.12-3.14
  have PY_UNWIND on for the whole interpreter meanwhile).
"""
import json
import os
import subprocess
import tempfile
import time

from benchlib import BUILD, HERE, median, per_interpreter

REC = os.path.join(BUILD, "bin", "peeka-rec")


def rounds_of(py, mode, n, attaches=4):
    """Attaches several times to one process, so that rounds with and
    without the agent alternate and this VM's drifting speed hits both."""
    env = dict(os.environ, PYTHONPATH=HERE)
    proc = subprocess.Popen([py, os.path.join(HERE, "async_workload.py"), mode, str(n),
                             str(3.5 * attaches + 1.5)],
                            stdout=subprocess.PIPE, text=True, env=env, cwd=HERE)
    proc.stdout.readline()
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(attaches):
            time.sleep(1.5)
            r = subprocess.run([REC, "-q", "-p", str(proc.pid), "-d", "1.5", "-o",
                                os.path.join(tmp, "a.tar.zst"), "watch", "async_funcs.af"], env=env, check=False)
            if r.returncode != 0:
                proc.kill()
                raise RuntimeError("peeka-rec failed")
    rounds = json.loads(proc.stdout.read().splitlines()[-1])["rounds"]
    proc.wait()
    # a round next to an attach or a detach shares the time with ptrace
    # stops and the agent's start or teardown: neither side's
    steady = [x for i, x in enumerate(rounds[1:-1], 1)
              if rounds[i - 1]["active"] == x["active"] == rounds[i + 1]["active"]]
    return [x for x in steady if x["active"]], [x for x in steady if not x["active"]]


def bench(tag, py, n=10000):
    ns = lambda rs, k: median(x[k] for x in rs) / n * 1e9
    on, off = rounds_of(py, "awaits", n)
    agent_ns = ns(on, "watched") - ns(on, "plain")
    wrap_ns = ns(off, "pywrap") - ns(off, "plain")
    print("async   %-6s added per watched coroutine call: %4.0f ns (awaiting it through a Python"
          " coroutine alone: %4.0f ns); medians of %d vs %d rounds of %d"
          % (tag, agent_ns, wrap_ns, len(on), len(off), n))
    on, off = rounds_of(py, "unobserved", n)
    print("async   %-6s unobserved while an async def is watched: calls %.3fx, raise-and-catch %.3fx"
          " of without (target < 1.02x)"
          % (tag, ns(on, "calls") / ns(off, "calls"), ns(on, "raises") / ns(off, "raises")))


def main():
    per_interpreter(bench)


if __name__ == "__main__":
    main()
