"""A process forked while it is recorded: the child is exactly as if peeka
had never been there (functions, descriptors, import hooks, atexit,
profiler, sys.monitoring tools, fds, threads), none of its calls is
recorded, and a recording of the child later is a clean first attach."""
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest

from peeka_testlib import REC, Target, read_archive, rec, target_env

PER_INTERPRETER = True
F = "fk.funcs."
PROBES = ["watch fk.later.f",                    # pending: an import hook on sys.meta_path
          "watch %swork" % F, "monitor %swork --interval 3600" % F,
          "watch %sShape.*" % F, "watch %sShape.__init__" % F,
          "watch %sspawn" % F, "trace %sspawn" % F, "trace %straced" % F,
          "stack %sleaf" % F, "watch %sslow" % F]
# work, spawn, traced, leaf, slow, and Shape's __init__, area, make, unit, label
HOOKS = 10
# what one round of fork_round.py makes the parent call
WATCHED = {F + "work": 12 + 3 + 5, F + "Shape.__init__": 2, F + "Shape.area": 1, F + "Shape.make": 1,
           F + "Shape.unit": 1, F + "Shape.label": 1, F + "spawn": 1, F + "slow": 1}
# as before the attach; the agent's counts are the last session's after a
# detach (the next attach resets them), but a session undone at the fork is
# forgotten with them
CLEAN = {"diff": "none", "threads": "1", "active": "False", "hooks": "0"}
FORGOTTEN = dict(CLEAN, observations="0", drops="0")


def probe_args():
    args = []
    for p in PROBES:
        args += ["--probe", p]
    return args


class ForkWhileRecorded(unittest.TestCase):
    def setUp(self):
        self.t = Target("fork_round.py", str(HOOKS))
        self.t.wait_for("ready")
        self.tmp = tempfile.TemporaryDirectory()
        self.rounds = 0

    def tearDown(self):
        self.t.stop()
        self.tmp.cleanup()

    def line(self, prefix, pid, timeout=20):
        """The last line `prefix pid=PID …`."""
        pat = re.compile(r"^%s pid=%s(?: |$)" % (re.escape(prefix), pid if pid else r"\d+"))
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = [l for l in self.t.output().splitlines() if pat.match(l)]
            if found:
                return found[-1]
            time.sleep(0.02)
        self.fail("no %r line for pid %s; output:\n%s" % (prefix, pid, self.t.output()))

    def recorded_round(self):
        """One round under a recorder of the parent; returns (records, summary, child pid)."""
        self.rounds += 1
        before = self.t.output().count("ROUND waiting")
        self.t.proc.send_signal(signal.SIGUSR1)
        while self.t.output().count("ROUND waiting") == before:
            self.assertIsNone(self.t.proc.poll(), self.t.output())
            time.sleep(0.02)
        out = os.path.join(self.tmp.name, "parent%d.tar.zst" % self.rounds)
        p = subprocess.Popen([REC, "-p", str(self.t.pid), "-q", "-d", "120", "-o", out] + probe_args(),
                             env=target_env(), stderr=subprocess.PIPE, text=True)
        done = self.wait_parent_done(self.rounds)
        p.send_signal(signal.SIGINT)
        self.assertEqual(p.wait(30), 0, p.stderr.read())
        p.stderr.close()
        _, recs, summary, _ = read_archive(out)
        return recs, summary, done

    def wait_parent_done(self, n):
        end = time.monotonic() + 30
        while time.monotonic() < end:
            done = re.findall(r"^PARENT done child=(\d+)$", self.t.output(), re.M)
            if len(done) >= n:
                return int(done[n - 1])
            self.assertIsNone(self.t.proc.poll(), self.t.output())
            time.sleep(0.02)
        self.fail("the round never ended; output:\n" + self.t.output())

    def assert_parent_archive(self, recs, summary):
        """Exactly the parent's calls of one round: the child's went nowhere."""
        self.assertEqual(summary["records"], len(recs))
        watch = {}
        for r in recs:
            if r["kind"] == "watch":
                watch[r["func_name"]] = watch.get(r["func_name"], 0) + 1
        self.assertEqual(watch, WATCHED)
        self.assertEqual(sorted(r["func_name"] for r in recs if r["kind"] == "trace"),
                         [F + "spawn"] + [F + "traced"] * 3)
        self.assertEqual([r["func_name"] for r in recs if r["kind"] == "stack"], [F + "leaf"] * 4)
        mon = [r for r in recs if r["kind"] == "monitor"]
        self.assertEqual([(r["func_name"], r["total"]) for r in mon], [(F + "work", 20)])
        spawned = [r for r in recs if r["kind"] == "watch" and r["func_name"] == F + "spawn"][0]
        self.assertGreater(spawned["returnObj"], 0)   # the parent's return, never the child's 0
        works = [r for r in recs if r["kind"] == "watch" and r["func_name"] == F + "work"]
        self.assertEqual([r["seq"] for r in works], list(range(1, 21)))
        self.assertEqual([r["params"][0] for r in works],
                         list(range(12)) + [100, 101, 102] + list(range(1000, 1005)))

    def report(self, prefix, pid):
        """The child's report `prefix pid=PID key=value …` as a dict."""
        fields = dict(kv.split("=", 1) for kv in self.line(prefix, pid)[len(prefix):].split())
        del fields["pid"]
        return fields

    def assert_report(self, prefix, pid, want):
        got = self.report(prefix, pid)
        self.assertEqual({k: got.get(k) for k in want}, want, "%s of %d: %s" % (prefix, pid, got))

    def assert_child_clean(self, pid, forgotten=True):
        want = FORGOTTEN if forgotten else CLEAN
        self.assert_report("CHILD", pid, want)
        self.assert_report("CHILD-IMPORTED", pid, want)

    def finish_child(self, pid):
        os.kill(pid, signal.SIGUSR2)
        self.line("CHILD-RETURNED", pid)
        self.assertEqual(self.line("CHILD-EXIT", pid), "CHILD-EXIT pid=%d status=0" % pid)

    def test_child_is_clean_and_records_afresh(self):
        recs, summary, child = self.recorded_round()
        self.assert_parent_archive(recs, summary)
        self.assert_child_clean(child)
        # a later recording of the child is a first attach: its own probe
        # only, though the child returns through the parent's hooked spawn
        # frame while it records
        os.kill(child, signal.SIGUSR1)
        self.line("CHILD waiting", child)
        out = os.path.join(self.tmp.name, "child.tar.zst")
        p = rec("-p", child, "-q", "-o", out, "watch", F + "other", "-n", "7")
        self.assertEqual(p.returncode, 0, p.stderr)
        session, crecs, csummary, _ = read_archive(out)
        self.assertEqual(session["target"]["pid"], child)
        self.assertEqual(csummary["reason"], "count")
        self.assertEqual([(r["func_name"], r["probe_id"], r["seq"], r["params"]) for r in crecs],
                         [(F + "other", 1, i + 1, [i]) for i in range(7)])
        self.assertEqual([(pr["id"], pr["observations"]) for pr in csummary["probes"]], [(1, 7)])
        self.assert_report("CHILD-AFTER", child, dict(CLEAN, observations="7"))
        self.assertEqual(self.line("CHILD-EXIT", child), "CHILD-EXIT pid=%d status=0" % child)

    def test_every_attach_and_a_fork_after_detach(self):
        """Several sessions of the parent, each forking; then a fork nobody
        records: every child is clean (the agent's fork handling is set up
        once per process, and does nothing when no session is active)."""
        for _ in range(2):
            recs, summary, child = self.recorded_round()
            self.assert_parent_archive(recs, summary)
            self.assert_child_clean(child)
            self.finish_child(child)
        self.t.proc.send_signal(signal.SIGUSR2)
        child = self.wait_parent_done(3)
        self.assert_child_clean(child, forgotten=False)
        self.finish_child(child)


if __name__ == "__main__":
    unittest.main()
