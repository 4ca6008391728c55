#!/usr/bin/env python3
"""Runs peeka's whole test suite and ends with one summary line.

1. Every Check unit test binary in $BUILD/tests/ (test_*).
2. Every end-to-end module tests/e2e/test_*.py (stdlib unittest). A module
   whose PER_INTERPRETER is true runs once per CPython found by
   `mk/pythons.sh --all`; the others run once.  Each run gets the
   environment:
     PEEKA_BUILD   the build directory (binaries in $PEEKA_BUILD/bin)
     PEEKA_PY      the interpreter under test (per-interpreter modules)
     PEEKA_PYTAG   its agent tag, e.g. cp311

Usage: tests/run.py [-k SUBSTRING] [--unit-only] [--e2e-only]
"""
import argparse
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.abspath(os.path.join(ROOT, os.environ.get("BUILD", "build")))
CHECK_RE = re.compile(r"(\d+)%: Checks: (\d+), Failures: (\d+), Errors: (\d+)")


def interpreters():
    out = subprocess.run(["sh", os.path.join(ROOT, "mk", "pythons.sh"), "--all"],
                         capture_output=True, text=True, check=False).stdout
    return [tuple(line.split(" ", 1)) for line in out.splitlines() if " " in line]


def run_unit(name_filter):
    passed = failed = 0
    tdir = os.path.join(BUILD, "tests")
    bins = sorted(f for f in os.listdir(tdir) if f.startswith("test_") and "." not in f
                  and os.access(os.path.join(tdir, f), os.X_OK)) if os.path.isdir(tdir) else []
    env = dict(os.environ, PEEKA_BUILD=BUILD, CK_FORK="yes")
    env["PEEKA_TEST_PYTHONS"] = " ".join(p for _, p in interpreters())
    for b in bins:
        if name_filter and name_filter not in b:
            continue
        proc = subprocess.run([os.path.join(tdir, b)], capture_output=True, text=True, env=env,
                              cwd=ROOT, check=False)
        out = proc.stdout + proc.stderr
        m = CHECK_RE.search(out)
        if m:
            total, fails = int(m.group(2)), int(m.group(3)) + int(m.group(4))
        else:
            total, fails = 1, 1
        ok = proc.returncode == 0 and fails == 0 and m
        passed += total - fails
        failed += fails if m else 1
        print("unit  %-36s %s" % (b, (m.group(0) if m else "no Check summary, exit %d" % proc.returncode)))
        if not ok:
            print(indent(out))
    return passed, failed


def indent(text):
    return "\n".join("    | " + line for line in text.rstrip().splitlines()[-60:])


def e2e_modules(name_filter):
    edir = os.path.join(ROOT, "tests", "e2e")
    for f in sorted(os.listdir(edir)):
        if f.startswith("test_") and f.endswith(".py") and (not name_filter or name_filter in f):
            path = os.path.join(edir, f)
            with open(path) as fh:
                per_interp = re.search(r"^PER_INTERPRETER\s*=\s*True", fh.read(), re.M) is not None
            yield f[:-3], per_interp


def unittest_counts(out, returncode):
    """(passed, failed) from unittest's own closing lines; a module that
    crashed before them counts as one failure."""
    ran = re.search(r"^Ran (\d+) tests? in", out, re.M)
    if not ran:
        return 0, 1
    total = int(ran.group(1))
    bad = sum(int(n) for n in re.findall(r"(?:failures|errors)=(\d+)", out.rsplit("Ran ", 1)[-1]))
    skipped = re.search(r"skipped=(\d+)", out.rsplit("Ran ", 1)[-1])
    passed = total - bad - (int(skipped.group(1)) if skipped else 0)
    if returncode != 0 and bad == 0:
        bad = 1
    return passed, bad


SKIP_RE = re.compile(r"^(test\w+) \(([\w.]+)\)\S* \.\.\. skipped '(.*)'$", re.M)


def run_e2e(name_filter, skips):
    passed = failed = 0
    pythons = interpreters()
    for mod, per_interp in e2e_modules(name_filter):
        runs = pythons if per_interp else [pythons[0] if pythons else ("", "")]
        for tag, py in runs:
            env = dict(os.environ, PEEKA_BUILD=BUILD, PEEKA_PY=py, PEEKA_PYTAG=tag,
                       PYTHONDONTWRITEBYTECODE="1")
            preload = os.environ.get("PEEKA_ASAN_PRELOAD")
            if preload:   # make asan: sanitized agents inside uninstrumented Pythons
                env["LD_PRELOAD"] = preload
                # CPython frees little at exit: no leak reports from the targets
                # (peeka_testlib turns them back on for peeka-rec and peeka-analyze)
                env["ASAN_OPTIONS"] = "detect_leaks=0"
            t0 = time.monotonic()
            proc = subprocess.run([sys.executable, "-m", "unittest", "-v", mod],
                                  cwd=os.path.join(ROOT, "tests", "e2e"), env=env,
                                  capture_output=True, text=True, check=False)
            out = proc.stderr + proc.stdout
            ok_n, bad_n = unittest_counts(out, proc.returncode)
            passed += ok_n
            failed += bad_n
            label = "%s [%s %s]" % (mod, tag, py) if per_interp else mod
            found = SKIP_RE.findall(out)
            skipped = len(re.findall(r"\.\.\. skipped", out))
            where = " [%s]" % tag if per_interp else ""
            skips += ["%s%s: %s" % (test_id, where, why) for _, test_id, why in found]
            skips += ["%s%s: (no reason given)" % (mod, where)] * (skipped - len(found))
            print("e2e   %-60s %3d ok %3d failed%s  %5.1fs" % (label, ok_n, bad_n,
                  " %d skipped" % skipped if skipped else "", time.monotonic() - t0))
            if bad_n:
                print(indent(out))
    return passed, failed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", dest="filter", default="")
    ap.add_argument("--unit-only", action="store_true")
    ap.add_argument("--e2e-only", action="store_true")
    args = ap.parse_args()
    pythons = interpreters()
    print("interpreters under test: " + ", ".join("%s (%s)" % (t, p) for t, p in pythons))
    passed = failed = 0
    skips = []
    if not args.e2e_only:
        p, f = run_unit(args.filter)
        passed, failed = passed + p, failed + f
    if not args.unit_only:
        p, f = run_e2e(args.filter, skips)
        passed, failed = passed + p, failed + f
    if skips:
        print("skipped:")
        for s in skips:
            print("  " + s)
    print("%d passed, %d failed, %d skipped" % (passed, failed, len(skips)))
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
