#!/usr/bin/env python3
"""make bench: what `logger --capture` adds to a logging call, per
interpreter: a captured logger's call against the same call of a logger
it does not capture in the same process (both go through peeka's record
factory), and against the same workload run without peeka just before
(logcapture_workload.py).  Every captured call must be recorded or
dropped, and the program's handler must get every record."""
import json
import os
import subprocess
import sys
import tempfile

from benchlib import BUILD, HERE, median, per_interpreter
REC = os.path.join(BUILD, "bin", "peeka-rec")
WORKLOAD = os.path.join(HERE, "logcapture_workload.py")


def rounds_of(stdout):
    return json.loads(stdout.splitlines()[-1])


def bench(tag, py, k=2000, rounds=31):
    args = [py, WORKLOAD, str(k), str(rounds)]
    bare = rounds_of(subprocess.run(args, capture_output=True, text=True, check=True).stdout)
    with tempfile.TemporaryDirectory() as tmp:
        archive = os.path.join(tmp, "l.tar.zst")
        p = subprocess.run([REC, "-q", "-o", archive, "--level", "1", "--buffer", "64K",
                            "--probe", "logger --capture --name bench.cap", "--"] + args,
                           capture_output=True, text=True, cwd=HERE, check=False)
        if p.returncode != 0:
            raise RuntimeError("peeka-rec failed (%d): %s" % (p.returncode, p.stderr))
        res = rounds_of(p.stdout)
        raw = subprocess.run(["zstd", "-dcq", archive], capture_output=True, check=True).stdout
    summary = json.loads(raw[raw.rindex(b'{"end_ns"'):].split(b"\0", 1)[0])
    seen = summary["probes"][0]["observations"] + summary["probes"][0]["drops"]
    if seen != k * rounds or res["handled"] != 2 * k * rounds:
        raise RuntimeError("captured %d, handled %d; expected %d and %d" % (seen, res["handled"], k * rounds,
                                                                           2 * k * rounds))
    rs, bs = res["rounds"][1:], bare["rounds"][1:]   # the first round warms up
    ns = lambda xs, key: median(r[key] for r in xs) / k * 1e9
    ratio = median(r["cap"] / r["free"] for r in rs)
    print("logcapture %-6s logging call: captured %.0f ns, not captured %.0f ns (%.3fx, median of per-round"
          " ratios), without peeka %.0f ns (not captured: %.3fx of it); medians of %d rounds of %d calls;"
          " %d captured records in the archive, %d dropped"
          % (tag, ns(rs, "cap"), ns(rs, "free"), ratio, ns(bs, "free"), ns(rs, "free") / ns(bs, "free"),
             len(rs), k, summary["probes"][0]["observations"], summary["probes"][0]["drops"]))
    return ratio


def main():
    per_interpreter(bench)


if __name__ == "__main__":
    sys.exit(main())
