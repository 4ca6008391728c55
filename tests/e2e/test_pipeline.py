"""Record real processes with peeka-rec, then run every built-in
peeka-analyze script on those archives and check what they say against
what the test knows was called."""
import json
import os
import subprocess
import tempfile
import unittest

from peeka_testlib import ANALYZE, launch, read_archive, tool_env

PER_INTERPRETER = False


def analyze(*args, rc=0):
    p = subprocess.run([ANALYZE] + [str(a) for a in args], capture_output=True, text=True, timeout=120,
                       env=tool_env(dict(os.environ), False))
    if rc is not None and p.returncode != rc:
        raise AssertionError("peeka-analyze %s: exit %d\n%s%s" % (args, p.returncode, p.stdout, p.stderr))
    return p


class Pipeline(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        proc, cls.watch = launch(d, ["watch wt.funcs.add", "watch wt.funcs.boom", "watch wt.funcs.kw",
                                     "watch wt.funcs.Shape.area"], "wt_calls.py")
        assert proc.returncode == 0, proc.stderr
        os.rename(cls.watch, os.path.join(d, "watch.tar.zst"))
        cls.watch = os.path.join(d, "watch.tar.zst")
        proc, cls.trace = launch(d, ["trace tsm.funcs.root"], "tsm_calls.py")
        assert proc.returncode == 0, proc.stderr
        os.rename(cls.trace, os.path.join(d, "trace.tar.zst"))
        cls.trace = os.path.join(d, "trace.tar.zst")
        cls.wrecs = read_archive(cls.watch)[1]
        cls.trecs = read_archive(cls.trace)[1]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_info(self):
        out = analyze(self.watch, "info").stdout
        self.assertIn("complete   yes", out)
        self.assertIn("watch wt.funcs.add: 7 observations", out)
        self.assertIn("watch wt.funcs.boom: 4 observations", out)

    def test_summary(self):
        rows = json.loads(analyze(self.watch, "summary", "--format", "json").stdout)
        rows = rows.get("rows", rows) if isinstance(rows, dict) else rows
        by = {r["function"]: r for r in rows}
        self.assertEqual(by["wt.funcs.add"]["calls"], 7)
        self.assertEqual(by["wt.funcs.boom"]["calls"], 4)
        self.assertEqual(by["wt.funcs.boom"]["errors"], 2)
        self.assertEqual(by["wt.funcs.kw"]["calls"], 1)
        self.assertEqual(by["wt.funcs.Shape.area"]["calls"], 1)

    def test_slowest(self):
        out = analyze(self.watch, "slowest", "--arg", "n=3").stdout
        slowest = sorted(self.wrecs, key=lambda r: -r["cost_ns"])[0]
        self.assertIn(slowest["func_name"], out.splitlines()[2])

    def test_exceptions(self):
        out = analyze(self.watch, "exceptions").stdout.splitlines()
        # "odd 1" and "odd 3" are one group, shown by its first message
        self.assertEqual(out[2].split(), ["2", "ValueError", "odd", "1", "wt.funcs.boom", "funcs.py:17", "in", "boom"])
        self.assertEqual(len(out), 3)
        exact = analyze(self.watch, "exceptions", "--arg", "by=exact").stdout
        self.assertIn("odd 1", exact)
        self.assertIn("odd 3", exact)

    def test_chrometrace(self):
        doc = json.loads(analyze(self.watch, "chrometrace").stdout)
        slices = [e for e in doc["traceEvents"] if e.get("ph") == "X"]
        self.assertEqual(len(slices), len(self.wrecs))

    def test_calltree(self):
        out = analyze(self.trace, "calltree").stdout
        self.assertIn("`---[", out)
        self.assertIn("tsm.funcs.root", out)
        self.assertIn("middle", out)

    def test_collapsed(self):
        lines = analyze(self.trace, "collapsed", "--arg", "unit=calls").stdout.splitlines()
        stacks = dict(l.rsplit(" ", 1) for l in lines)
        self.assertTrue(any(k.startswith("tsm.funcs.root;") and "middle" in k for k in stacks), lines)

    def test_slice_roundtrip(self):
        out = os.path.join(self.tmp.name, "small.tar.zst")
        analyze(self.watch, "slice", "--arg", "out=" + out, "--arg", "func=wt.funcs.add")
        _, recs, summary, _ = read_archive(out)
        self.assertEqual(len(recs), 7)
        self.assertTrue(all(r["func_name"] == "wt.funcs.add" for r in recs))
        self.assertEqual(summary["records"], 7)
        again = json.loads(analyze(out, "summary", "--format", "json").stdout)
        self.assertIn("wt.funcs.add", json.dumps(again))


class Compare(unittest.TestCase):
    """compare with a real injected slowdown (exit 1) and two recordings of
    the same code (exit 0, several times in a row)."""

    def record(self, tmp, name, delay_ms):
        proc, out = launch(tmp, ["watch wt.funcs.handle", "watch wt.funcs.add"], "cmp_work.py",
                           str(delay_ms), "60")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        path = os.path.join(tmp, name)
        os.rename(out, path)
        return path

    def test_same_code_is_no_regression(self):
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(3):
                base = self.record(tmp, "base%d.tar.zst" % i, 3)
                head = self.record(tmp, "head%d.tar.zst" % i, 3)
                p = analyze(base, head, "compare", rc=None)
                self.assertEqual(p.returncode, 0, "run %d: %s%s" % (i, p.stdout, p.stderr))

    def test_slowdown_is_a_regression(self):
        """Two recordings per side, judged between runs (one per side only
        flags beyond 2x, and 3 ms -> 6 ms of sleep plus work is less)."""
        with tempfile.TemporaryDirectory() as tmp:
            base = [self.record(tmp, "base%d.tar.zst" % i, 3) for i in range(2)]
            head = [self.record(tmp, "head%d.tar.zst" % i, 6) for i in range(2)]
            p = analyze(*base, *head, "compare", "--format", "markdown", rc=None)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn("| 🔴 ↑ | wt.funcs.handle | 2 | 2 |", p.stdout)   # a row of the job summary's table


if __name__ == "__main__":
    unittest.main()
