#!/usr/bin/env python3
"""make bench: trace's and monitor's cost, per interpreter, as ratios
against baselines measured in the same process and run:
- a call-heavy function (3 Python calls per loop step) while every call of
  it is traced, next to the same workload under cProfile, both relative to
  the untraced twin; target: trace no slower than cProfile;
- the time monitor adds to each call of a monitored function, against its
  unmonitored twin; target: < 150 ns.
"""
import json
import os
import subprocess
import tempfile

from benchlib import BUILD, HERE, median, per_interpreter

REC = os.path.join(BUILD, "bin", "peeka-rec")


def bench(tag, py, n=20000, k=200000, rounds=15):
    env = dict(os.environ, PYTHONPATH=HERE)
    with tempfile.TemporaryDirectory() as tmp:
        archive = os.path.join(tmp, "t.tar.zst")
        p = subprocess.run([REC, "-q", "-o", archive, "--probe", "trace trace_workload.heavy",
                            "--probe", "monitor trace_workload.mon --interval 1", "--",
                            py, os.path.join(HERE, "trace_workload.py"), str(n), str(k), str(rounds)],
                           capture_output=True, text=True, env=env, cwd=HERE, check=False)
        if p.returncode != 0:
            raise RuntimeError("peeka-rec failed (%d): %s" % (p.returncode, p.stderr))
        res = json.loads(p.stdout.splitlines()[-1])
        raw = subprocess.run(["zstd", "-dcq", archive], capture_output=True, check=True).stdout
    rs = res["rounds"][1:]   # the first round warms caches and specialisation
    plain = median(r["plain"] for r in rs)
    traced = median(r["traced"] for r in rs) / plain
    cprof = median(r["cprofile"] for r in rs) / plain
    mon_ns = (median(r["mon"] for r in rs) - median(r["mon_plain"] for r in rs)) / k * 1e9
    traces = raw.count(b'"kind":"trace"')
    calls = raw.count(b'"kind":"monitor"')
    print("trace   %-6s call-heavy function (%d calls per call), every call traced: %.2fx of untraced;"
          " same workload under cProfile: %.2fx; trace/cProfile %.2f (target <= 1.0; %d trees recorded)"
          % (tag, 3 * n, traced, cprof, traced / cprof, traces))
    print("monitor %-6s added per monitored call: %.0f ns (target < 150 ns; medians of %d rounds of %d calls,"
          " %d monitor records)" % (tag, mon_ns, len(rs), k, calls))
    return traced / cprof, mon_ns


def main():
    per_interpreter(bench)


if __name__ == "__main__":
    main()
