"""A recording that ends, or an install that is rolled back, while a
probe's condition runs slow user code (str() of an argument that sleeps
0.4 s): the probe's state must not be freed under the running hook.  The
targets run with MALLOC_PERTURB_ so that a use after free shows; they must
survive, exit 0 with their functions restored, and the archive must be
complete.  Attach and launch mode, for trace, watch and stack."""
import os
import signal
import tempfile
import time
import unittest

from peeka_testlib import PY, TARGETS, Target, read_archive, rec

PER_INTERPRETER = True
PERTURB = {"MALLOC_PERTURB_": "165"}
COND = "--condition \"str(params[0]) == 'a'\""
PROBES = {
    "traced": "trace obs.funcs.traced " + COND,
    "watched": "watch obs.funcs.watched " + COND,
    "stacked": "stack obs.funcs.stacked " + COND,
}
FINAL = "obs done calls=SOME identity=OK hooks=0"


class Teardown(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.tmp.name, "rec.tar.zst")

    def tearDown(self):
        self.tmp.cleanup()

    def assert_complete(self):
        session, records, summary, _ = read_archive(self.out)
        self.assertIsNotNone(session)
        self.assertIsNotNone(summary, "archive has no summary")
        self.assertEqual(summary["reason"], "duration")
        self.assertEqual(summary["records"], len(records))
        self.assertEqual(sum(p["observations"] for p in summary["probes"]), len(records))
        return records

    def attach(self, name, *probes, duration="1"):
        t = Target("obs_calls.py", name, "0", env=PERTURB)
        try:
            t.wait_for("ready")
            time.sleep(0.3)
            args = []
            for p in probes:
                args += ["--probe", p]
            p = rec("-p", t.pid, "-d", duration, "-q", "-o", self.out, *args)
            time.sleep(0.2)
            self.assertIsNone(t.proc.poll(), "target died:\n" + t.output())
            os.kill(t.pid, signal.SIGUSR1)
            try:
                rc = t.proc.wait(15)
            except Exception:
                rc = None
            self.assertEqual(rc, 0, "target did not survive:\n" + t.output())
            self.assertIn(FINAL, t.output())
            return p
        finally:
            t.stop()

    def launch(self, name):
        p = rec("-q", "-d", "1", "-o", self.out, "--probe", PROBES[name], "--",
                PY, os.path.join(TARGETS, "obs_calls.py"), name, "2.5", env=PERTURB)
        self.assertEqual(p.returncode, 0, "target did not survive:\n" + p.stdout + p.stderr)
        self.assertIn(FINAL, p.stdout)
        return self.assert_complete()

    def check_attach(self, name):
        p = self.attach(name, PROBES[name])
        self.assertEqual(p.returncode, 0, p.stderr)
        return self.assert_complete()

    def test_trace_attach(self):
        self.check_attach("traced")

    def test_trace_launch(self):
        self.launch("traced")

    def test_watch_attach(self):
        recs = self.check_attach("watched")
        self.assertTrue(all(r["func_name"] == "obs.funcs.watched" for r in recs))

    def test_watch_launch(self):
        self.launch("watched")

    def test_stack_attach(self):
        self.check_attach("stacked")

    def test_stack_launch(self):
        self.launch("stacked")

    def test_install_rollback(self):
        # The first probe hooks watched; resolving the second one runs the
        # module's slow __getattr__ (the calls' conditions run meanwhile)
        # and then fails, so the install removes the first one again.
        p = self.attach("watched", PROBES["watched"], "watch obs.funcs.Missing.method")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("Missing", p.stderr)


if __name__ == "__main__":
    unittest.main()
