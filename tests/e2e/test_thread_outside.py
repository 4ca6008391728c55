"""`peeka-rec -p PID thread` on a process where a thread keeps the GIL in a
long C call, so that the agent cannot get in: the dump is read from outside
(recorder/remote_stacks.c; the offsets from _Py_DebugOffsets on 3.13+, from
the agent's layout table on 3.8-3.12) and every thread's stack must be
exactly the one the interpreter itself reported just before the call, and
the one the agent's own thread probe reports once the call returned."""
import json
import os
import re
import signal
import tempfile
import time
import unittest

from peeka_testlib import ANALYZE, Target, TARGET_VERSION, read_archive, rec

import subprocess

PER_INTERPRETER = True


class StuckInC(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.tmp = tmp.name
        self.out = os.path.join(self.tmp, "t.tar.zst")
        stacks = os.path.join(self.tmp, "stacks.json")
        self.t = Target("thr_target.py", "outside", stacks)
        self.addCleanup(self.t.stop)
        end = time.monotonic() + 20
        while not os.path.exists(stacks):
            self.assertLess(time.monotonic(), end, "the target wrote no stacks:\n" + self.t.output())
            time.sleep(0.02)
        time.sleep(0.3)   # from writing them into the C call on the same line
        with open(stacks) as f:
            self.expected = {int(k): [tuple(fr) for fr in v] for k, v in json.load(f).items()}
        self.stuck = next(n for n, v in self.expected.items() if v[0][0] == "hold_gil_reporting")

    def comm(self, native):
        with open("/proc/%d/task/%d/comm" % (self.t.pid, native)) as f:
            return f.read().strip()

    def test_dump_read_from_outside(self):
        p = rec("-q", "-p", self.t.pid, "--timeout", "1", "-o", self.out, "thread")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "peeka-rec: the agent could not get in within 1000 ms: thread %d "
                         "(%s) holds the GIL; the thread dump was read from outside the process "
                         "instead\n" % (self.stuck, self.comm(self.stuck)))
        session, recs, summary, _ = read_archive(self.out)
        self.assertEqual(session["attach"]["route"], "outside")
        self.assertEqual((summary["records"], summary["drops"], summary["reason"]), (4, 0, "count"))
        self.assertEqual(summary["probes"][0]["observations"], 4)
        self.assertEqual({r["native_id"] for r in recs}, set(self.expected))
        ids = [r["thread_id"] for r in recs]
        self.assertEqual(ids, sorted(ids))   # --sort-by tid
        self.assertEqual([r["index"] for r in recs], [1, 2, 3, 4])
        for r in recs:
            want = self.expected[r["native_id"]]
            got = [(f["function"], f["filename"], f["lineno"]) for f in r["stack"]]
            self.assertEqual(got, want, "thread %d" % r["native_id"])
            self.assertEqual((r["kind"], r["cycle"], r["thread_count"]), ("thread", 1, 4))
            self.assertEqual((r["source"], r["stack_depth"]), ("remote", len(want)))
            self.assertEqual(r["top_frame"], r["stack"][0])
            self.assertEqual(r["holds_gil"], r["native_id"] == self.stuck)
            self.assertEqual(r["name"], self.comm(r["native_id"]))
            self.assertEqual(r["tid"], r["thread_id"])
            self.assertIsNone(r["daemon"])
            self.assertNotIn("stack_cut", r)
            if r["native_id"] != self.stuck:   # the stuck one is in usleep's system call
                self.assertEqual(r["state"], "idle" if r["native_id"] == self.t.pid else "lock")
        deep = next(r for r in recs if len(r["stack"]) == 8)
        self.assertEqual([f["function"] for f in deep["stack"][2:5]], ["\U00020000", "热", "wärme"])
        dump = subprocess.run([ANALYZE, self.out, "threads", "--arg", "source=false"],
                              capture_output=True, text=True, check=True).stdout
        self.assertIn("4 threads, read from outside the process\n", dump)
        self.assertRegex(dump, r'Thread \d+ "%s" \(native %d\): [a-z_: ]+, 4 frames, holds the GIL\n'
                         r'    hold_gil_reporting \(\S+/funcs.py:%d\)\n'
                         % (re.escape(self.comm(self.stuck)), self.stuck, self.expected[self.stuck][0][2]))

    def test_the_agents_probe_agrees(self):
        """Once the C call returned, the agent gets in: its own thread probe
        must find every other thread where the outside read did."""
        outside = rec("-q", "-p", self.t.pid, "--timeout", "1", "-o", self.out, "thread")
        self.assertEqual(outside.returncode, 0, outside.stderr)
        _, before, _, _ = read_archive(self.out)
        os.kill(self.t.pid, signal.SIGUSR1)   # taken by the stuck thread alone
        end = time.monotonic() + 20
        while os.path.exists("/proc/%d/task/%d" % (self.t.pid, self.stuck)):
            self.assertLess(time.monotonic(), end, "the stuck thread never ended")
            time.sleep(0.02)
        inside = os.path.join(self.tmp, "in.tar.zst")
        p = rec("-q", "-p", self.t.pid, "-o", inside, "thread")
        self.assertEqual((p.returncode, p.stderr), (0, ""))
        session, after, _, _ = read_archive(inside)
        self.assertNotEqual(session["attach"]["route"], "outside")
        self.assertEqual({r["native_id"] for r in after}, set(self.expected) - {self.stuck})
        frames = {r["native_id"]: [(f["function"], f["filename"], f["lineno"]) for f in r["stack"]]
                  for r in before}
        for r in after:
            self.assertNotIn("source", r)
            self.assertEqual([(f["function"], f["filename"], f["lineno"]) for f in r["stack"]],
                             frames[r["native_id"]], "thread %d" % r["native_id"])
            self.assertEqual(r["thread_id"], next(b["thread_id"] for b in before
                                                  if b["native_id"] == r["native_id"]))

    def test_options_apply(self):
        p = rec("-q", "-p", self.t.pid, "--timeout", "1", "-o", self.out, "thread", "--depth", "2",
                "--state", "lock", "--sort-by", "depth")
        self.assertEqual(p.returncode, 0, p.stderr)
        _, recs, _, _ = read_archive(self.out)
        lock = sorted((n for n in self.expected if n not in (self.stuck, self.t.pid)),
                      key=lambda n: -len(self.expected[n]))
        self.assertEqual([r["native_id"] for r in recs], lock)   # deepest first
        for r in recs:
            want = self.expected[r["native_id"]]
            self.assertEqual([(f["function"], f["lineno"]) for f in r["stack"]],
                             [(f[0], f[2]) for f in want[:2]])
            self.assertEqual((r["stack_depth"], r["thread_count"]), (len(want), 4))

    def test_wait_bounds_the_attach(self):
        """Without --timeout, the thread probe's --wait is how long the agent may take."""
        p = rec("-q", "-p", self.t.pid, "-o", self.out, "thread", "--wait", "0.5")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(p.stderr.startswith("peeka-rec: the agent could not get in within 500 ms: "),
                        p.stderr)
        _, recs, _, _ = read_archive(self.out)
        self.assertEqual({r["native_id"] for r in recs}, set(self.expected))


if __name__ == "__main__":
    unittest.main()
