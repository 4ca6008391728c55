#!/usr/bin/env python3
"""Benchmark: peeka-analyze `summary` against the same aggregation (per
function count, mean, p95, max) done by Python's json module over the same
JSONL, measured in the same run.  Also reports peak RSS for two archive
sizes, to show memory does not grow with the archive.

    BUILD=build python3 tests/bench/analyze_bench.py [--records N]

Prints ratio lines; exits 0 (a benchmark measures, it does not judge).
"""
import argparse
import json
import os
import random
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import archive_fixture as af  # noqa: E402

PY_AGG = r'''
import json, math, sys
groups = {}
with open(sys.argv[1], "rb") as f:
    for line in f:
        r = json.loads(line)
        if r.get("kind") != "watch" or r.get("location") not in ("AtExit", "AtExceptionExit"):
            continue
        groups.setdefault(r["func_name"], []).append(r["cost_ns"])
for name in sorted(groups):
    v = sorted(groups[name])
    n = len(v)
    p95 = v[max(1, math.ceil(0.95 * n)) - 1]
    print(name, n, sum(v) / n, p95, v[-1])
'''

FUNCS = ["app.views.%s" % n for n in ("checkout", "cart", "login", "search", "product", "home")] + \
        ["app.db.Query.%s" % n for n in ("execute", "fetch_one", "fetch_all", "commit")] + \
        ["app.cache.%s" % n for n in ("get", "set", "delete")] + \
        ["app.util.%s" % n for n in ("render", "escape", "slugify", "paginate", "fmt_price")]


def make_records(n, seed):
    rnd = random.Random(seed)
    for i in range(n):
        f = FUNCS[rnd.randrange(len(FUNCS))]
        cost = int(rnd.lognormvariate(11, 1.2))
        throw = "ValueError: bad input %d" % i if rnd.random() < 0.01 else None
        yield af.watch_record(
            f, cost, seq=i + 1, ts_ns=af.START_NS + i * 50000,
            params=[rnd.randrange(1000), "user-%d" % rnd.randrange(100), {"qty": 2, "sku": "A-17"}],
            kwargs={"currency": "EUR", "express": bool(i & 1)},
            target={"__class__": "app.cart.Cart", "__attrs__": {"items": 3, "owner": "u%d" % (i % 97)}},
            ret=None if throw else {"total": 41.5, "lines": [1, 2, 3]}, throw=throw,
            thread_id=139872 + i % 4, thread_name="worker-%d" % (i % 4))


def generate(outdir, n):
    """Archive and plain JSONL with the same records; reused when present."""
    arc = os.path.join(outdir, "bench-%d.tar.zst" % n)
    jsonl = os.path.join(outdir, "bench-%d.jsonl" % n)
    if os.path.exists(arc) and os.path.exists(jsonl):
        return arc, jsonl
    os.makedirs(outdir, exist_ok=True)
    w = af.ArchiveWriter(arc)
    with open(jsonl + ".tmp", "w") as out:
        batch = []
        for r in make_records(n, seed=n):
            line = af.dumps(r)
            out.write(line + "\n")
            batch.append(line)
            if len(batch) >= 20000:
                w.add_lines(batch)
                batch = []
        w.add_lines(batch)
    w.close()
    os.rename(jsonl + ".tmp", jsonl)
    return arc, jsonl


def run_rss(argv):
    """Runs argv, returns (wall seconds, peak RSS in MiB, stdout)."""
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        try:
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    wall = time.monotonic() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("%s exited %d" % (" ".join(argv), os.waitstatus_to_exitcode(status)))
    return wall, ru.ru_maxrss / 1024.0


def best_of(k, argv):
    runs = [run_rss(argv) for _ in range(k)]
    return min(r[0] for r in runs), max(r[1] for r in runs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1000000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    build = os.path.abspath(os.path.join(ROOT, os.environ.get("BUILD", "build")))
    ana = os.path.join(build, "bin", "peeka-analyze")
    outdir = os.path.join(ROOT, "tests", "out", "bench")
    small_n = max(1000, args.records // 10)
    arc, jsonl = generate(outdir, args.records)
    small_arc, _ = generate(outdir, small_n)
    pyscript = os.path.join(outdir, "py_summary.py")
    with open(pyscript, "w") as f:
        f.write(PY_AGG)

    t_ana, rss_ana = best_of(args.repeat, [ana, "-q", arc, "summary"])
    t_py, rss_py = best_of(args.repeat, [sys.executable, pyscript, jsonl])
    _, rss_small = best_of(1, [ana, "-q", small_arc, "summary"])
    mib = os.path.getsize(jsonl) / 2**20
    print("analyze summary, %d records (%.0f MiB JSONL, %.1f MiB .tar.zst): peeka-analyze %.2fs, "
          "python json %.2fs, ratio %.1fx (target >= 5x)"
          % (args.records, mib, os.path.getsize(arc) / 2**20, t_ana, t_py, t_py / t_ana))
    print("analyze summary peak RSS: %d records %.1f MiB, %d records %.1f MiB, ratio %.2fx "
          "(python json: %.1f MiB)" % (small_n, rss_small, args.records, rss_ana,
                                       rss_ana / rss_small, rss_py))
    return 0


if __name__ == "__main__":
    sys.exit(main())
