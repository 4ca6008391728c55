#!/usr/bin/env python3
"""make bench: how many observations per second peeka-rec keeps, per
interpreter, on the 2-argument function of watch_bench.py.

- burst: N calls as fast as the program can make them, with no recorder
  (the baseline), then under the default policy (stream: a full ring
  drops) and under --lossless (a full ring makes the call wait): calls/s
  offered (the program's own rate), recorded, dropped, archive bytes per
  observation, and each rate as a ratio of the baseline's; the lossless
  slowdown is its time over the default policy's, same run;
- sustained: the default policy asked for R calls/s for 3 s (the program
  paces itself): recorded and dropped, where the zero-drop capacity ends.
Targets (issue 13): 1,000,000/s sustained with 0 drops, < 14 bytes per
observation.  Drops at a sustained rate depend on what else the machine
runs (the recorder and the program share its cores): each line shows the
1-minute load average from when its runs ended.
"""
import json
import os
import subprocess
import sys
import tempfile

from benchlib import HERE, per_interpreter
from watch_bench import WORKLOAD, run_observed

BURST = 1000000
RATES = (250000, 500000, 1000000)


def baseline(py, n):
    """Seconds for n calls of the unobserved function, no recorder."""
    p = subprocess.run([py, WORKLOAD, "flood", str(n), "1"], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=HERE), cwd=HERE, check=True)
    return json.loads(p.stdout.splitlines()[-1])["f"]


def burst(py, tmp, policy):
    extra = ("--lossless",) if policy == "lossless" else ()
    t, s, size = run_observed(py, "flood", BURST, 1, os.path.join(tmp, policy + ".tar.zst"), extra)
    if s["policy"]["name"] != policy:
        raise RuntimeError("summary.json says policy %r, expected %r" % (s["policy"], policy))
    return {"secs": t["f"], "records": s["records"], "drops": s["drops"],
            "bpo": size / max(s["records"], 1)}


def load():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def bench(tag, py):
    with tempfile.TemporaryDirectory() as tmp:
        base = baseline(py, BURST)
        runs = {pol: burst(py, tmp, pol) for pol in ("stream", "lossless")}
        burst_load = load()
        paced = []
        for rate in RATES:
            t, s, size = run_observed(py, "paced", rate, 3, os.path.join(tmp, "p.tar.zst"))
            paced.append((rate, t["calls"] / t["f"], s["records"], s["drops"],
                          size / max(s["records"], 1), load()))
    print("throughput %-6s burst of %d calls, no recorder: %.0f calls/s (the baseline;"
          " load average %s)" % (tag, BURST, BURST / base, burst_load))
    for pol, r in runs.items():
        print("throughput %-6s burst, %-8s: offered %.0f calls/s (%.2fx the baseline's time),"
              " %d recorded, %d dropped, %.1f archive bytes per observation (target < 14)"
              % (tag, pol, BURST / r["secs"], r["secs"] / base, r["records"], r["drops"], r["bpo"]))
    print("throughput %-6s --lossless: %.2fx the default policy's time for the same burst"
          " (it records %d more calls)" % (tag, runs["lossless"]["secs"] / runs["stream"]["secs"],
                                          runs["lossless"]["records"] - runs["stream"]["records"]))
    for rate, achieved, recs, drops, bpo, avg in paced:
        print("throughput %-6s sustained: asked %d/s for 3 s, achieved %.0f/s (%.2fx asked),"
              " %d recorded, %d dropped, %.1f bytes per observation (target: 1000000/s with 0"
              " drops; load average %s)" % (tag, rate, achieved, achieved / rate, recs, drops, bpo,
                                            avg))
    sys.stdout.flush()


def main():
    per_interpreter(bench)


if __name__ == "__main__":
    main()
