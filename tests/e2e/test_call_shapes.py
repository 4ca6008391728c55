"""Every way CPython calls a Python function reaches the hook: one function
per call shape (tests/targets/shapes.py), each called exactly N times, in
launch mode and in attach mode after every call site is warm (specialised
on 3.11+).  The count recorded per function must equal the calls made."""
import os
import subprocess
import tempfile
import time
import unittest

from peeka_testlib import REC, TARGET_VERSION, Target, agent_threads, launch, read_archive, target_env

PER_INTERPRETER = True
N = 50
F = "shp.funcs."
# function -> calls per round of shapes.py
EXPECTED = {
    F + "plain": 3 * N,                 # module attribute, alias, stored in a dict
    F + "via_partial": N,
    F + "C.meth": 2 * N,                # method, stored bound method
    F + "C.cm": N,
    F + "C.sm": N,
    F + "C.prop": 2 * N,                # getter and setter
    F + "C.__init__": N,
    F + "C.__call__": N,
    F + "C.__getattr__": N,
    F + "C.__eq__": N,
    F + "C.__len__": N,
    F + "C.__getitem__": N,
    F + "C.greet": N,
    F + "Base.greet": N,                # through super()
    F + "from_c": N,
    F + "gen": N,
    F + "cached": N,
}


def probe_args():
    args = []
    for f in EXPECTED:
        args += ["--probe", "watch %s -n -1" % f]
    return args


def counts(recs):
    got = {}
    for r in recs:
        got[r["func_name"]] = got.get(r["func_name"], 0) + 1
    return got


class CallShapes(unittest.TestCase):
    def check(self, got, expected):
        missing = {f: (got.get(f, 0), n) for f, n in expected.items() if got.get(f, 0) != n}
        self.assertEqual(missing, {}, "function: (recorded, called)")

    def test_launch(self):
        with tempfile.TemporaryDirectory() as tmp:
            proc, out = launch(tmp, ["watch %s" % f for f in EXPECTED], "shapes.py", str(N))
            self.assertEqual(proc.returncode, 0, proc.stderr)
            _, recs, summary, _ = read_archive(out)
        expected = dict(EXPECTED)
        expected[F + "C.__init__"] += 1   # `obj = C(1)` at the target's start
        self.check(counts(recs), expected)
        self.assertEqual(summary["drops"], 0)

    def test_attach_warm(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        go = os.path.join(tmp.name, "go")
        t = Target("shapes.py", str(N), "attach", go)
        self.addCleanup(t.stop)
        t.wait_for("warm", timeout=60)
        out = os.path.join(tmp.name, "a.tar.zst")
        r = subprocess.Popen([REC, "-p", str(t.pid), "-d", "30", "-q", "-o", out] + probe_args(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=target_env())
        end = time.monotonic() + 20
        while not agent_threads(t.pid) and r.poll() is None and time.monotonic() < end:
            time.sleep(0.02)
        time.sleep(0.3)   # the probes are installed once the install request is answered
        open(go, "w").close()
        t.wait_for("done", timeout=60)
        time.sleep(0.3)
        r.send_signal(2)
        _, err = r.communicate(timeout=30)
        self.assertEqual(r.returncode, 0, err)
        _, recs, summary, _ = read_archive(out)
        self.check(counts(recs), dict(EXPECTED))


if __name__ == "__main__":
    unittest.main()
