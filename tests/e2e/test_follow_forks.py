"""--follow-forks: the children a recorded process forks during the
recording are recorded into the same archive, each record naming its pid,
with exact counts per process; a child that execs something else records
nothing; without the option a child is left alone (test_fork.py has the
rest of that)."""
import os
import signal
import subprocess
import tempfile
import time
import unittest

from peeka_testlib import (REC, TARGETS, Target, pid_func_counts as counts, probes_in, read_archive,
                           target_env, tool_env)

PER_INTERPRETER = True
F = "ff.funcs."
PARENT = 5


class FollowForks(unittest.TestCase):
    def setUp(self):
        self.t = Target("follow_forks.py")
        self.t.wait_for("ready")
        self.tmp = tempfile.TemporaryDirectory()
        self.rounds = 0

    def tearDown(self):
        self.t.stop()
        self.tmp.cleanup()

    def record_round(self, *extra):
        """One round of the target recorded; (rc, stderr, archive, kids, exec pid)."""
        out = os.path.join(self.tmp.name, "r%d.tar.zst" % self.rounds)
        p = subprocess.Popen([REC, "-p", str(self.t.pid), "-o", out] + list(extra) +
                             ["watch", F + "work", "watch", F + "child_only"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=tool_env(target_env(), False), cwd=TARGETS)
        while not probes_in(out) and p.poll() is None:
            time.sleep(0.02)
        self.assertIsNone(p.poll(), p.stderr.read() if p.poll() is not None else "")
        self.rounds += 1
        os.kill(self.t.pid, signal.SIGUSR1)
        self.t.wait_for("round %d " % self.rounds, timeout=30)
        line = [l for l in self.t.output().splitlines() if l.startswith("round %d " % self.rounds)][0]
        kids = [int(x) for x in line.split("children=")[1].split()[0].split(",")]
        ex = int(line.split("exec=")[1])
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
        return p.returncode, err, read_archive(out), kids, ex

    def test_children_recorded(self):
        rc, err, (session, records, summary, _), kids, ex = self.record_round("--follow-forks")
        self.assertEqual(rc, 0, err)
        self.assertTrue(session["follow_forks"])
        parent = self.t.pid
        self.assertEqual(counts(records), {
            (parent, F + "work"): PARENT,
            (kids[0], F + "work"): 10, (kids[0], F + "child_only"): 1,
            (kids[1], F + "work"): 20, (kids[1], F + "child_only"): 2})
        procs = {p["pid"]: p for p in summary["processes"]}
        self.assertEqual(summary["processes"][0]["pid"], parent)
        self.assertIsNone(summary["processes"][0]["parent"])
        # the exec'd child recorded nothing; it may have connected between its
        # fork and its exec (then it is listed, and ended), or been gone first
        self.assertEqual(sorted(set(procs) - {ex}), sorted([parent] + kids))
        for pid in [k for k in kids + [ex] if k in procs]:
            self.assertEqual(procs[pid]["parent"], parent)
            self.assertGreaterEqual(procs[pid]["end_ns"], procs[pid]["start_ns"])
        self.assertEqual(summary["records"], PARENT + 10 + 1 + 20 + 2)
        self.assertEqual(summary["probes"][0]["observations"], PARENT + 30)

    def test_default_leaves_children_alone(self):
        rc, err, (session, records, summary, _), kids, ex = self.record_round()
        self.assertEqual(rc, 0, err)
        self.assertNotIn("follow_forks", session)
        self.assertNotIn("processes", summary)
        self.assertEqual(counts(records), {(None, F + "work"): PARENT})

    def test_second_recording_follows_again(self):
        """A followed round, then an ordinary one, then a followed one: each
        recording sees exactly its own round."""
        for follow in (True, False, True):
            rc, err, (_, records, _, _), kids, _ = self.record_round(*(["--follow-forks"] if follow else []))
            self.assertEqual(rc, 0, err)
            want = {((self.t.pid if follow else None), F + "work"): PARENT}
            if follow:
                want.update({(kids[0], F + "work"): 10, (kids[0], F + "child_only"): 1,
                             (kids[1], F + "work"): 20, (kids[1], F + "child_only"): 2})
            self.assertEqual(counts(records), want)


class Pool(unittest.TestCase):
    def test_multiprocessing_fork_pool(self):
        """Pool workers end in os._exit(): their last records still come
        (3.9+: threading._shutdown runs the agent's flush first; 3.8: the
        agent wraps multiprocessing.util._exit_function)."""
        self.pool("fork")

    def test_multiprocessing_forkserver_pool(self):
        """The forkserver runs before the recording: -p finds it (a child
        running the same Python), and the workers it forks are followed."""
        self.pool("forkserver")

    def pool(self, method):
        t = Target("ff_pool.py", method)
        tmp = tempfile.TemporaryDirectory()
        try:
            t.wait_for("ready")
            out = os.path.join(tmp.name, "pool.tar.zst")
            p = subprocess.Popen([REC, "-p", str(t.pid), "--follow-forks", "-o", out, "watch", F + "work"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=tool_env(target_env(), False), cwd=TARGETS)
            while not probes_in(out) and p.poll() is None:
                time.sleep(0.02)
            os.kill(t.pid, signal.SIGUSR1)
            t.wait_for("round 1 ", timeout=60)
            line = [l for l in t.output().splitlines() if l.startswith("round 1 ")][0]
            want = {(int(a), F + "work"): int(b) for a, b in
                    (kv.split(":") for kv in line.split("pids=")[1].split()[0].split(","))}
            p.send_signal(signal.SIGINT)
            _, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, err)
            _, records, summary, _ = read_archive(out)
            self.assertEqual(counts(records), want)
            self.assertEqual(sum(want.values()), 40)
        finally:
            t.stop()
            tmp.cleanup()


if __name__ == "__main__":
    unittest.main()
