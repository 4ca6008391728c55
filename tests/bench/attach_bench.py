#!/usr/bin/env python3
"""make bench: how fast peeka-rec gets into a running process.

- end to end: from running `peeka-rec -p PID` to its first observation on
  stdout, against a target calling the watched function every millisecond
  (idle otherwise), per interpreter; on 3.14+ once per route (PEP 768
  remote-exec, the default there, and ptrace) against the same target;
- the installed route (a target that called peeka_agent.install(): no
  ptrace) beside the default route on a plain target, same interpreter,
  same run, as a ratio;
- injection alone, native ptrace vs gdb injecting the same code into the same
  process in the same run (gdb only where it is installed).
Targets: native >= 10x faster than gdb; under 100 ms on an idle target.
"""
import os
import shutil
import statistics
import subprocess
import sys
import time

from benchlib import BUILD, HERE, ROOT, interpreters

REC = os.path.join(BUILD, "bin", "peeka-rec")
TARGET = ("import time, bench_funcs\nprint('ready', flush=True)\n"
          "while True:\n    bench_funcs.f(1, 2)\n    time.sleep(0.001)\n")


INSTALLED = "import peeka_agent\npeeka_agent.install()\n" + TARGET


def start_target(py, installed=False):
    path = HERE + (os.pathsep + os.path.join(BUILD, "lib", "peeka", "python") if installed else "")
    p = subprocess.Popen([py, "-c", INSTALLED if installed else TARGET], stdout=subprocess.PIPE, text=True,
                         env=dict(os.environ, PYTHONPATH=path))
    p.stdout.readline()
    return p


def first_observation_ms(pid, via="auto"):
    t0 = time.perf_counter()
    route = ["--attach-installed"] if via == "installed" else ["--via", via]
    p = subprocess.Popen([REC, "-q", "-p", str(pid), "-o", "-"] + route + ["watch", "bench_funcs.f",
                          "-n", "1"],
                         stdout=subprocess.PIPE, text=True)
    p.stdout.readline()
    ms = (time.perf_counter() - t0) * 1000
    p.wait()
    return ms


def main():
    for tag, py in interpreters():
        # 3.14+: the PEP 768 route (the default there) beside ptrace, same target
        routes = ["remote-exec", "ptrace"] if int(tag[3:]) >= 14 else ["auto"]
        t = start_target(py)
        try:
            for via in routes:
                runs = [first_observation_ms(t.pid, via) for _ in range(10)]
                print("attach %-6s %-11s peeka-rec -p PID to first observation: median %.1f ms, "
                      "max %.1f ms over %d attaches (target < 100 ms)"
                      % (tag, via, statistics.median(runs), max(runs), len(runs)))
            plain = statistics.median(runs)
        finally:
            t.kill()
            t.wait()
        t = start_target(py, installed=True)
        try:
            runs = [first_observation_ms(t.pid, "installed") for _ in range(10)]
            print("attach %-6s %-11s peeka-rec -p PID to first observation: median %.1f ms, "
                  "max %.1f ms over %d attaches; %.2fx the %s route's median on a plain target"
                  % (tag, "installed", statistics.median(runs), max(runs), len(runs),
                     statistics.median(runs) / plain, via))
        finally:
            t.kill()
            t.wait()
    tool = os.path.join(BUILD, "bench", "attach_latency")
    subprocess.run(["make", "-s", "-f", "mk/bench.mk", "BUILD=" + BUILD], cwd=ROOT, check=True)
    tag, py = interpreters()[-1]
    t = start_target(py)
    try:
        args = [tool, "-n", "10"] + (["--gdb"] if shutil.which("gdb") else []) + [str(t.pid)]
        out = subprocess.run(args, capture_output=True, text=True, check=False)
        for line in out.stdout.splitlines():
            print("attach %-6s injection: %s" % (tag, line))
        if not shutil.which("gdb"):
            print("attach: gdb not installed, no comparison (apt-get install gdb)")
    finally:
        t.kill()
        t.wait()


if __name__ == "__main__":
    sys.exit(main())
