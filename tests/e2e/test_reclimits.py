"""peeka-rec's size limits and output names: every --buffer and --level
gives a complete archive that counts every call (docs/protocol.md "Limits"),
and output names of any length work, or fail before the target is touched."""
import json
import os
import signal
import subprocess
import tempfile
import time
import unittest

from peeka_testlib import (ANALYZE, PY, REC, TARGETS, Target, agent_threads, peeka_sockets,
                           read_archive, rec, target_env, tool_env)

PER_INTERPRETER = False


def wait_recording(out, p, timeout=20):
    """Until session.json is in the .partial: the probes are installed."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if os.path.getsize(out + ".partial") > 0:
                return
        except OSError:
            pass
        if p.poll() is not None:
            raise AssertionError("peeka-rec ended early (%d): %s" % (p.returncode, p.stderr.read()))
        time.sleep(0.02)
    raise AssertionError("the recording never started")


def wait_no_agent(pid, timeout=5):
    end = time.monotonic() + timeout
    while time.monotonic() < end and agent_threads(pid):
        time.sleep(0.02)


class BurstCase(unittest.TestCase):
    """One target process per class; each case attaches, makes one burst,
    stops the recorder with SIGINT and checks the archive."""
    CALLS = 20000

    @classmethod
    def setUpClass(cls):
        cls.t = Target("rec_burst.py", str(cls.CALLS))
        cls.t.wait_for("ready")
        cls.bursts = 0
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.t.stop()
        cls.tmp.cleanup()

    def burst(self):
        type(self).bursts += 1
        os.kill(self.t.pid, signal.SIGUSR2)
        self.t.wait_for("burst %d done" % self.bursts, timeout=60)

    def record_burst(self, name, *extra):
        wait_no_agent(self.t.pid)
        out = os.path.join(self.tmp.name, name + ".tar.zst")
        p = subprocess.Popen([REC, "-p", str(self.t.pid), "-q", "-o", out] + list(extra) +
                             ["watch", "wt.funcs.add"], stderr=subprocess.PIPE, text=True,
                             env=tool_env(target_env(), False))
        try:
            wait_recording(out, p)
            self.burst()
            p.send_signal(signal.SIGINT)
            rc = p.wait(120)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        err = p.stderr.read()
        self.assertEqual(rc, 0, err)
        self.assertEqual(err, "")
        self.assertTrue(os.path.exists(out), "no complete archive; .partial: %s" %
                        os.path.exists(out + ".partial"))
        session, recs, summary, names = read_archive(out)
        self.assertIsNotNone(summary)
        self.assertTrue(summary["complete"])
        self.assertEqual(summary["reason"], "signal")
        pr = summary["probes"][0]
        self.assertEqual(summary["records"], len(recs))
        self.assertEqual(pr["observations"], len(recs))
        self.assertEqual(pr["observations"] + pr["drops"], self.CALLS, summary)
        self.assertEqual(summary["drops"], pr["drops"])
        seqs = [r["seq"] for r in recs]
        self.assertEqual(seqs, sorted(seqs))
        self.assertEqual(len(set(seqs)), len(seqs))
        return summary, recs, names


class Buffers(BurstCase):
    CALLS = 20000

    def test_every_buffer_size(self):
        for size in ("64K", "1M", "4M", "5M", "16M", "64M", "256M"):
            with self.subTest(buffer=size):
                summary, recs, names = self.record_burst("buf-" + size, "--buffer", size)
                if size in ("64M", "256M"):
                    # big enough for the whole burst: nothing may be lost
                    self.assertEqual(summary["drops"], 0)
                chunks = [n for n in names if "/data/" in n]
                self.assertEqual(summary["chunks"], len(chunks))
                self.assertGreater(len(recs), 0)


class Levels(BurstCase):
    CALLS = 1500

    def test_every_level(self):
        for level in range(1, 20):
            with self.subTest(level=level):
                summary, recs, _ = self.record_burst("lvl-%d" % level, "--level", str(level),
                                                     "--buffer", "16M")
                self.assertEqual(summary["drops"], 0)
                self.assertEqual(len(recs), self.CALLS)


class LongNames(BurstCase):
    CALLS = 200

    def check_readable(self, path):
        t = subprocess.run(["tar", "--zstd", "-tf", path], capture_output=True, text=True)
        self.assertEqual(t.returncode, 0, t.stderr)
        members = t.stdout.split()
        stem = os.path.basename(path)[:-len(".tar.zst")]
        self.assertIn(stem + "/session.json", members)
        self.assertIn(stem + "/summary.json", members)
        self.assertIn(stem + "/data/000001.jsonl", members)
        a = subprocess.run([ANALYZE, path, "summary", "--format", "json"], capture_output=True,
                           text=True, env=tool_env(target_env(), False))
        self.assertEqual(a.returncode, 0, a.stderr)
        rows = json.loads(a.stdout)
        rows = rows.get("rows", rows) if isinstance(rows, dict) else rows
        self.assertEqual({r["function"]: r["calls"] for r in rows}, {"wt.funcs.add": self.CALLS})

    def name_of(self, n):
        """A file name of exactly n characters, ending in .tar.zst."""
        return "n" * (n - len(".tar.zst"))

    def test_long_file_names(self):
        # 247 is the longest that works: 247 + ".partial" = 255 = NAME_MAX
        for n in (120, 200, 247):
            with self.subTest(chars=n):
                name = self.name_of(n)
                self.record_burst(name)
                self.check_readable(os.path.join(self.tmp.name, name + ".tar.zst"))

    def test_deep_directory(self):
        d = self.tmp.name
        for i in range(6):
            d = os.path.join(d, "directory-level-%02d-%s" % (i, "d" * 20))
        os.makedirs(d)
        self.assertGreater(len(d), 100)
        rel = os.path.relpath(d, self.tmp.name)
        self.record_burst(os.path.join(rel, "capture"))
        self.check_readable(os.path.join(d, "capture.tar.zst"))


class BadNames(BurstCase):
    """A target no recorder ever reaches: every -o here must fail first."""
    CALLS = 10

    def name_of(self, n):
        """A file name of exactly n characters, ending in .tar.zst."""
        return "n" * (n - len(".tar.zst")) + ".tar.zst"

    def assert_fails_before_attach(self, output, words):
        wait_no_agent(self.t.pid)
        p = rec("-p", self.t.pid, "-q", "-o", output, "watch", "wt.funcs.add")
        self.assertEqual(p.returncode, 5, p.stderr)
        self.assertIn(words, p.stderr)
        self.assertEqual(agent_threads(self.t.pid), [])
        self.burst()
        self.assertIn("burst %d done calls=%d agent=False" % (self.bursts, self.CALLS), self.t.output())
        self.assertEqual(peeka_sockets(), [])

    def test_names_that_cannot_work_fail_before_attach(self):
        for n in (248, 250, 300):
            with self.subTest(chars=n):
                self.assert_fails_before_attach(os.path.join(self.tmp.name, self.name_of(n)),
                                                "too long")
        self.assert_fails_before_attach(os.path.join(self.tmp.name, "no-such-dir", "x.tar.zst"),
                                        "does not exist")
        self.assert_fails_before_attach("", "empty")
        self.assert_fails_before_attach(self.tmp.name, "is a directory")
        deep = "/" + "/".join(["d" * 250] * 20) + "/x.tar.zst"
        self.assert_fails_before_attach(deep, "too long")
        self.assertEqual(os.listdir(self.tmp.name), [])

    def test_unwritable_directory_fails_before_attach(self):
        if os.geteuid() == 0:
            self.skipTest("root writes anywhere")
        d = os.path.join(self.tmp.name, "ro")
        os.mkdir(d, 0o500)
        try:
            self.assert_fails_before_attach(os.path.join(d, "x.tar.zst"), "not writable")
        finally:
            os.chmod(d, 0o700)
            os.rmdir(d)

    def test_launch_mode_fails_before_launch(self):
        marker = os.path.join(self.tmp.name, "ran")
        p = rec("-q", "-o", os.path.join(self.tmp.name, self.name_of(250)), "watch", "wt.funcs.add",
                "--", PY, "-c", "open(%r, 'w').close()" % marker)
        self.assertEqual(p.returncode, 5, p.stderr)
        self.assertIn("too long", p.stderr)
        self.assertFalse(os.path.exists(marker), "the program ran")


if __name__ == "__main__":
    unittest.main()
