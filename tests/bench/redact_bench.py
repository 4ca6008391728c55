#!/usr/bin/env python3
"""make bench: what redaction rules add to a watched call, per interpreter,
as a ratio against the same watched call without rules, measured in the
same process and run (redact_workload.py).  The call's parameters, dict
keys and attributes match no rule: the common case, where the agent only
asks.  Target: the watched call with the default rules < 1.10x of the same
call without."""
import json
import os
import subprocess
import tempfile

from benchlib import BUILD, HERE, median, per_interpreter
REC = os.path.join(BUILD, "bin", "peeka-rec")
DEFAULT = "password|passwd|secret|token|api[_-]?key|authorization|cookie|session"   # common/redact.h


def bench(tag, py, k=2000, rounds=41):
    env = dict(os.environ, PYTHONPATH=HERE)
    with tempfile.TemporaryDirectory() as tmp:
        archive = os.path.join(tmp, "r.tar.zst")
        # a small buffer: most records are formatted (what is measured) and
        # then dropped, so compressing them does not compete for the CPUs
        p = subprocess.run([REC, "-q", "-o", archive, "--no-default-redact", "--level", "1", "--buffer", "64K",
                            "--probe", "watch redact_workload.ruled -x 3 --redact '%s'" % DEFAULT,
                            "--probe", "watch redact_workload.plain -x 3", "--",
                            py, os.path.join(HERE, "redact_workload.py"), str(k), str(rounds)],
                           capture_output=True, text=True, env=env, cwd=HERE, check=False)
        if p.returncode != 0:
            raise RuntimeError("peeka-rec failed (%d): %s" % (p.returncode, p.stderr))
        res = json.loads(p.stdout.splitlines()[-1])
        raw = subprocess.run(["zstd", "-dcq", archive], capture_output=True, check=True).stdout
    rs = res["rounds"][1:]   # the first round warms caches and specialisation
    per_call = lambda key: median(r[key] for r in rs) / k * 1e9
    ruled, plain, bare = per_call("ruled"), per_call("plain"), per_call("unwatched")
    # the two sides of one round ran back to back: their ratio drifts less
    # than either side does over the run
    ratio = median(r["ruled"] / r["plain"] for r in rs)
    added = median(r["ruled"] - r["plain"] for r in rs) / k * 1e9
    recorded = raw.count(b'{"type":"observation","kind":"watch"')
    summary = json.loads(raw[raw.rindex(b'{"end_ns"'):].split(b"\0", 1)[0])
    seen = [p["observations"] + p["drops"] for p in summary["probes"]]
    if seen != [k * rounds] * 2:   # every call of both was formatted, or the ratio means nothing
        raise RuntimeError("observed %s, expected %d each" % (seen, k * rounds))
    redacted = raw.count(b'"[redacted]"') - 1   # session.json names the replacement
    print("redact  %-6s watched call (4 params, 4 dict keys, 3 attributes, 3 result keys; none matches):"
          " with the default rules %.0f ns, without %.0f ns: %.3fx (median of per-round ratios; target < 1.10x);"
          " %+.0f ns per call"
          " (the unwatched call: %.0f ns; medians of %d rounds of %d calls; %d recorded, the rest dropped;"
          " %d values redacted)" % (tag, ruled, plain, ratio, added, bare, len(rs), k, recorded, redacted))
    return ratio


def main():
    per_interpreter(bench)


if __name__ == "__main__":
    main()
