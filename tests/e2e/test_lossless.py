"""--lossless: a call that finds the agent's ring full waits for room
instead of being dropped.  A tight loop at full speed, with a ring small
enough to fill thousands of times, loses nothing in launch and attach mode;
a recorder SIGKILLed while a call waits ends the wait, the agent detaches
by itself and the program's calls all complete."""
import os
import signal
import subprocess
import tempfile
import time
import unittest

from peeka_testlib import (PY, REC, Target, agent_threads, launch, read_archive, target_env,
                           tool_env)

PER_INTERPRETER = True

CALLS = 200000
SUM = CALLS * (CALLS - 1) // 2 + 2 * CALLS   # of add(i, 2) for i < CALLS
# 64K: a ring of a few hundred records, full again and again at full speed
SMALL_RING = ("--buffer", "64K")


def check_lossless(test, out, calls, reason):
    session, recs, summary, _ = read_archive(out)
    test.assertIsNotNone(summary, "no summary in %s" % out)
    test.assertEqual(summary["policy"]["name"], "lossless")
    test.assertEqual(summary["reason"], reason)
    test.assertEqual(summary["drops"], 0)
    test.assertEqual(summary["records"], calls)
    test.assertEqual(summary["probes"][0]["observations"], calls)
    test.assertEqual(summary["probes"][0]["drops"], 0)
    test.assertEqual(len(recs), calls)
    # every call, in order, each with its own arguments and result
    test.assertEqual([r["seq"] for r in recs], list(range(1, calls + 1)))
    test.assertEqual([r["params"][0] for r in recs], list(range(calls)))
    test.assertEqual(sum(r["returnObj"] for r in recs), SUM)


def main_thread_sleeps(pid):
    """The main thread is in clock_nanosleep: with the GIL released, in the
    agent's wait for room (the loop under test makes no other syscall
    while its burst runs)."""
    try:
        with open("/proc/%d/task/%d/syscall" % (pid, pid)) as f:
            return f.read().split()[0] == "230"   # x86_64 clock_nanosleep
    except OSError:
        return False


def wait_until(cond, what, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.01)
    raise AssertionError("never happened: " + what)


class LaunchLossless(unittest.TestCase):
    def setUp(self):
        self.tmpd = tempfile.TemporaryDirectory(prefix="peeka-lossless-")
        self.addCleanup(self.tmpd.cleanup)

    def test_tight_loop_loses_nothing(self):
        p, out = launch(self.tmpd.name, ["watch wt.funcs.add"], "lossless_loop.py", str(CALLS),
                        extra=("--lossless",) + SMALL_RING)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        self.assertIn("done calls=%d sum=%d" % (CALLS, SUM), p.stdout)
        check_lossless(self, out, CALLS, "target-exited")

    def test_default_policy_is_stream(self):
        p, out = launch(self.tmpd.name, ["watch wt.funcs.add"], "lossless_loop.py", "5000")
        self.assertEqual(p.returncode, 0, p.stderr)
        _, recs, summary, _ = read_archive(out)
        self.assertEqual(summary["policy"]["name"], "stream")
        self.assertEqual(summary["records"] + summary["drops"], 5000)
        self.assertEqual(len(recs), summary["records"])


class AttachLossless(unittest.TestCase):
    """One idle target; each test attaches and makes bursts with SIGUSR2."""

    def setUp(self):
        self.tmpd = tempfile.TemporaryDirectory(prefix="peeka-lossless-")
        self.addCleanup(self.tmpd.cleanup)
        self.t = Target("lossless_loop.py", str(CALLS), "bursts")
        self.addCleanup(self.t.stop)
        self.t.wait_for("ready")
        self.bursts = 0

    def start_burst(self):
        self.bursts += 1
        os.kill(self.t.pid, signal.SIGUSR2)

    def burst_done(self):
        self.t.wait_for("burst %d done calls=%d sum=%d" % (self.bursts, CALLS, SUM), timeout=120)

    def attach(self, name):
        out = os.path.join(self.tmpd.name, name + ".tar.zst")
        p = subprocess.Popen([REC, "-p", str(self.t.pid), "-q", "-o", out, "--lossless"] +
                             list(SMALL_RING) + ["watch", "wt.funcs.add"],
                             stderr=subprocess.PIPE, text=True, env=tool_env(target_env(), False))
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        wait_until(lambda: os.path.exists(out + ".partial") and os.path.getsize(out + ".partial"),
                   "the probes are installed")
        return p, out

    def record_one_burst(self, name):
        p, out = self.attach(name)
        self.start_burst()
        self.burst_done()
        p.send_signal(signal.SIGINT)
        self.assertEqual(p.wait(60), 0, p.stderr.read())
        check_lossless(self, out, CALLS, "signal")

    def test_burst_loses_nothing(self):
        self.record_one_burst("burst")
        wait_until(lambda: not agent_threads(self.t.pid), "the agent thread ends")

    def test_recorder_killed_while_a_call_waits(self):
        p, out = self.attach("killed")
        os.kill(p.pid, signal.SIGSTOP)   # stops reading: the ring fills, the loop waits
        self.start_burst()
        wait_until(lambda: main_thread_sleeps(self.t.pid), "the program's call waits for room")
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        self.burst_done()   # the wait ended and every call of the burst completed
        wait_until(lambda: not agent_threads(self.t.pid), "the agent detaches by itself")
        self.assertIsNone(self.t.proc.poll())
        self.start_burst()   # unobserved now, and still running
        self.burst_done()
        # what the killed recorder had taken is readable; then a new one starts afresh
        _, recs, summary, _ = read_archive(out + ".partial")
        self.assertIsNone(summary)
        self.assertEqual([r["seq"] for r in recs], list(range(1, len(recs) + 1)))
        self.record_one_burst("again")


if __name__ == "__main__":
    unittest.main()
