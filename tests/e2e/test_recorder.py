"""peeka-rec as cron and CI run it: stop conditions, signals, hung or killed
recorders, unwritable and full disks, probe files, output names, gdb."""
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from peeka_testlib import ANALYZE, PY, REC, Target, peeka_sockets, read_archive, rec, target_env

PER_INTERPRETER = False


class Recorder(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.t = None

    def tearDown(self):
        if self.t:
            self.t.stop()
        self.tmp.cleanup()

    def target(self, script="wt_loop.py"):
        self.t = Target(script)
        self.t.wait_for("ready")
        time.sleep(0.2)
        self.threads = self.t.threads()
        return self.t

    def assert_target_clean(self, within=3.0):
        end = time.monotonic() + within
        while time.monotonic() < end and self.t.threads() != self.threads:
            time.sleep(0.05)
        self.assertEqual(self.t.threads(), self.threads, "agent thread still in the target")
        os.kill(self.t.pid, signal.SIGUSR1)
        self.t.wait_for("IDENTITY")
        self.assertIn("IDENTITY OK", self.t.output())

    def out(self, name="r.tar.zst"):
        return os.path.join(self.tmp.name, name)

    def test_sigterm_and_sighup_finalise(self):
        self.target()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            out = self.out("s%d.tar.zst" % sig)
            p = subprocess.Popen([REC, "-p", str(self.t.pid), "-q", "-o", out, "watch", "wt.funcs.add"],
                                 env=target_env())
            time.sleep(1.0)
            p.send_signal(sig)
            self.assertEqual(p.wait(10), 0)
            _, recs, summary, _ = read_archive(out)
            self.assertEqual(summary["reason"], "signal")
            self.assertEqual(summary["records"], len(recs))
        self.assert_target_clean()

    def test_hung_recorder_agent_detaches_itself(self):
        self.target()
        out = self.out()
        p = subprocess.Popen([REC, "-p", str(self.t.pid), "-q", "-o", out, "watch", "wt.funcs.add"],
                             env=target_env(), stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        self.assertGreater(len(self.t.threads()), len(self.threads))
        p.send_signal(signal.SIGSTOP)
        try:
            # the lease is 5 s: the agent gives up on a silent recorder
            self.assert_target_clean(within=8.0)
        finally:
            p.send_signal(signal.SIGCONT)
        rc = p.wait(15)
        self.assertEqual(rc, 6, p.stderr.read())       # agent lost; archive still complete
        _, recs, summary, _ = read_archive(out)
        self.assertEqual(summary["reason"], "agent-lost")
        self.assertGreater(len(recs), 0)

    def test_killed_recorder_keeps_all_but_the_last_second(self):
        """SIGKILL after several seconds at ~10k observations/s: what reached
        the archive's last flush survives.  With --flush-period 0.5 the
        records of the last 0.5 s may be lost, plus what was still on its
        way from the agent (up to a second on a loaded 2-core runner)."""
        self.target("rec_busy.py")
        out = self.out()
        p = subprocess.Popen([REC, "-p", str(self.t.pid), "-q", "-o", out, "--flush-period", "0.5",
                              "watch", "wt.funcs.add"], env=target_env())
        time.sleep(4.0)
        t_kill = time.time()
        p.kill()
        p.wait()
        session, recs, summary, _ = read_archive(out + ".partial")
        self.assertIsNone(summary)
        span = (max(r["ts_ns"] for r in recs) - min(r["ts_ns"] for r in recs)) / 1e9
        self.assertGreater(len(recs) / span, 10000, "the target did not run at 10k observations/s")
        last = max(r["ts_ns"] for r in recs) / 1e9
        self.assertGreater(last, t_kill - 1.5, "more than the last second was lost")
        self.assertEqual(len({r["seq"] for r in recs}), len(recs))
        self.assert_target_clean_busy()

    def assert_target_clean_busy(self):
        end = time.monotonic() + 3
        while time.monotonic() < end and len(self.t.threads()) > len(self.threads) + 1:
            time.sleep(0.05)
        self.assertLessEqual(len(self.t.threads()), len(self.threads) + 1)   # churn thread may be alive
        self.assertIsNone(self.t.proc.poll())

    def test_disk_full(self):
        mnt = os.path.join(self.tmp.name, "small")
        os.mkdir(mnt)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=192k", "tmpfs", mnt],
                          capture_output=True).returncode != 0:
            self.skipTest("cannot mount a small tmpfs here (needs root)")
        try:
            self.target("rec_busy.py")
            out = os.path.join(mnt, "full.tar.zst")
            p = rec("-p", self.t.pid, "-q", "-d", "20", "-o", out, "watch", "wt.funcs.add",
                    "watch", "wt.funcs.Shape.area")
            self.assertEqual(p.returncode, 5, p.stderr)
            self.assertIn("No space left on device", p.stderr)
            self.assertIn(".partial", p.stderr)
            session, recs, _, _ = read_archive(out + ".partial")
            self.assertIsNotNone(session)
            self.assertGreater(len(recs), 0)
            self.assert_target_clean_busy()
        finally:
            subprocess.run(["umount", "-l", mnt], check=False)

    def test_probe_file_and_output_name(self):
        self.target()
        pf = os.path.join(self.tmp.name, "probes")
        with open(pf, "w") as f:
            f.write("# checkout probes\n\nwatch wt.funcs.add -n 5\nwatch 'wt.funcs.Shape.*' -n 5\n")
        tmpl = os.path.join(self.tmp.name, "cap-%Y-{pid}.tar.zst")
        p = rec("-p", self.t.pid, "-q", "-o", tmpl, "--probe-file", pf)
        self.assertEqual(p.returncode, 0, p.stderr)
        files = glob.glob(os.path.join(self.tmp.name, "cap-*.tar.zst"))
        self.assertEqual(len(files), 1)
        self.assertEqual(os.path.basename(files[0]), "cap-%s-%d.tar.zst" % (time.strftime("%Y"), self.t.pid))
        session, recs, summary, _ = read_archive(files[0])
        self.assertEqual([pr["pattern"] for pr in session["probes"]], ["wt.funcs.add", "wt.funcs.Shape.*"])
        self.assertEqual(summary["reason"], "count")
        self.assertEqual([pr["observations"] for pr in summary["probes"]], [5, 5])

    def test_bad_probe_file_line(self):
        pf = os.path.join(self.tmp.name, "probes")
        with open(pf, "w") as f:
            f.write("watch a.b\nfrobnicate c.d\n")
        p = rec("-p", "1", "--probe-file", pf)
        self.assertEqual(p.returncode, 2)
        self.assertIn(pf + ":2:", p.stderr)

    def test_quiet_when_not_a_terminal(self):
        self.target()
        p = rec("-p", self.t.pid, "-o", self.out(), "watch", "wt.funcs.add", "-n", "3")
        self.assertEqual(p.returncode, 0)
        self.assertEqual(p.stderr, "")
        self.assertEqual(p.stdout, "")

    def test_progress_on_a_terminal(self):
        if not shutil.which("script"):
            self.skipTest("util-linux script not installed")
        self.target()
        out = self.out()
        cmd = "%s -p %d -d 1.2 -o %s watch wt.funcs.add" % (REC, self.t.pid, out)
        p = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True,
                           env=target_env(), timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("observations", p.stdout)        # the live line, on the terminal
        self.assertIn("/1s", p.stdout)                 # elapsed out of the limit
        self.assertIn("observations in " + out, p.stdout)
        p = subprocess.run(["script", "-qec", cmd.replace(" -d", " -q -d"), "/dev/null"],
                           capture_output=True, text=True, env=target_env(), timeout=30)
        self.assertEqual(p.returncode, 0)
        self.assertEqual(p.stdout.strip(), "")        # -q: silent even on a terminal

    def test_default_output_name(self):
        self.target()
        p = subprocess.run([REC, "-q", "-p", str(self.t.pid), "watch", "wt.funcs.add", "-n", "2"],
                           capture_output=True, text=True, env=target_env(), cwd=self.tmp.name)
        self.assertEqual(p.returncode, 0, p.stderr)
        names = os.listdir(self.tmp.name)
        self.assertEqual(len(names), 1, names)
        self.assertRegex(names[0], r"^peeka-%d-\d{8}-\d{6}\.tar\.zst$" % self.t.pid)

    def test_via_gdb(self):
        if not shutil.which("gdb"):
            self.skipTest("gdb not installed")
        self.target()
        out = self.out()
        p = rec("-p", self.t.pid, "--via", "gdb", "-q", "-o", out, "watch", "wt.funcs.add", "-n", "4")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(read_archive(out)[1]), 4)
        self.assert_target_clean()

    def test_recording_analysed(self):
        """The analyzer reads what the recorder wrote, and agrees with it."""
        self.target()
        out = self.out()
        p = rec("-p", self.t.pid, "-q", "-o", out, "watch", "wt.funcs.add", "-n", "50",
                "watch", "wt.funcs.Shape.unit", "-n", "20")
        self.assertEqual(p.returncode, 0, p.stderr)
        a = subprocess.run([ANALYZE, out, "summary", "--format", "json"], capture_output=True, text=True)
        self.assertEqual(a.returncode, 0, a.stderr)
        import json
        rows = json.loads(a.stdout)
        rows = rows.get("rows", rows) if isinstance(rows, dict) else rows
        calls = {r["function"]: r["calls"] for r in rows}
        self.assertEqual(calls, {"wt.funcs.add": 50, "wt.funcs.Shape.unit": 20})
        info = subprocess.run([ANALYZE, out, "info"], capture_output=True, text=True)
        self.assertEqual(info.returncode, 0)
        self.assertIn("complete   yes", info.stdout)

    def test_fork_while_recording(self):
        t = Target("wt_fork.py", "1.0")
        self.t = t
        t.wait_for("ready")
        out = self.out()
        p = subprocess.Popen([REC, "-p", str(t.pid), "-q", "-d", "2.5", "-o", out, "watch", "wt.funcs.add"],
                             env=target_env(), stderr=subprocess.PIPE, text=True)
        t.wait_for("parent done")
        self.assertEqual(p.wait(20), 0, p.stderr.read())
        self.assertIn("child active=False", t.output())
        _, recs, summary, _ = read_archive(out)
        # only the parent's 50 calls: the child's 20000 went nowhere
        self.assertEqual(len(recs), 50)
        self.assertTrue(all(r["params"][1] == 2 for r in recs))

    def test_idle_master_points_at_its_workers(self):
        """gunicorn-shaped: the master never calls the function, its
        workers do.  Recording the master says so and names them; a worker
        records exactly what it was asked for, with no such message."""
        self.target("prefork.py")
        workers = [int(w) for w in self.t.output().split("workers ", 1)[1].split()[:2]]
        p = rec("-q", "-p", self.t.pid, "-o", self.out(), "-d", "0.5", "watch", "wt.funcs.add")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr,
                         "peeka-rec: 1 probe recorded nothing in pid %d, which has 2 child processes "
                         "running the same Python (%s): the calls may happen there (workers); record "
                         "one with -p CHILD, or all of them with --follow-forks\n" % (self.t.pid, " ".join(str(w) for w in sorted(workers))))
        p = rec("-q", "-p", workers[0], "-o", self.out("w.tar.zst"), "watch", "wt.funcs.add", "-n", "25")
        self.assertEqual((p.returncode, p.stderr), (0, ""))
        self.assertEqual(len(read_archive(self.out("w.tar.zst"))[1]), 25)
        # the examples' recipe: every worker, one archive each
        script = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
                              "examples", "cron", "peeka-workers.sh")
        p = subprocess.run(["sh", script, str(self.t.pid), "-q", "-o", self.out("{pid}.tar.zst"),
                            "watch", "wt.funcs.add", "-n", "30"], capture_output=True, text=True,
                           env=target_env({"PEEKA_REC": REC}), timeout=60)
        self.assertEqual((p.returncode, p.stderr), (0, ""))
        for w in workers:
            self.assertEqual(len(read_archive(self.out("%d.tar.zst" % w))[1]), 30)
        # a process with no workers: said, exit 10, nothing recorded
        p = subprocess.run(["sh", script, str(workers[0]), "-q", "-o", self.out("none-{pid}.tar.zst"),
                            "watch", "wt.funcs.add"], capture_output=True, text=True,
                           env=target_env({"PEEKA_REC": REC}), timeout=60)
        self.assertEqual((p.returncode, p.stderr),
                         (10, "peeka-workers: pid %d has no workers\n" % workers[0]))
        self.assertEqual(glob.glob(self.out("none-*")), [])

    def test_nothing_left_in_runtime_dir(self):
        self.assertEqual(peeka_sockets(), [])


if __name__ == "__main__":
    unittest.main()
