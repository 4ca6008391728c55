"""trace, stack and monitor, end to end: real interpreter, real agent, real
archive, on every interpreter."""
import os
import signal
import subprocess
import sys
import tempfile
import unittest

from peeka_testlib import ANALYZE, PY, TARGET_VERSION, Target, launch, read_archive, rec

PER_INTERPRETER = True
FUNCS = "tsm.funcs."


def kids(node):
    return [(c["func"], c["count"]) for c in node["children"]]


def child(node, func):
    found = [c for c in node["children"] if c["func"] == func]
    assert len(found) == 1, (func, kids(node))
    return found[0]


def walk(node):
    yield node
    for c in node["children"]:
        yield from walk(c)


class Launched(unittest.TestCase):
    def record(self, *probes, args=()):
        with tempfile.TemporaryDirectory() as tmp:
            proc, out = launch(tmp, probes, "tsm_calls.py", *args)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertIn("calls done", proc.stdout)
            session, records, summary, _ = read_archive(out)
            calltree = subprocess.run([ANALYZE, out, "calltree", "--arg", "mode=each"],
                                      capture_output=True, text=True, check=False)
        self.assertEqual(summary["records"], len(records))
        self.assertEqual(sum(p["observations"] for p in summary["probes"]), len(records))
        self.output, self.calltree = proc.stdout, calltree
        return records


class Trace(Launched):
    def test_tree_shape_and_fields(self):
        recs = self.record("trace tsm.funcs.root -n 2")
        self.assertEqual(len(recs), 2)
        r = recs[0]
        for field in ("type", "kind", "probe_id", "seq", "ts_ns", "timestamp", "func_name", "call_tree",
                      "total_duration_ms", "node_count", "truncated", "thread_id", "thread_name"):
            self.assertIn(field, r)
        self.assertEqual((r["kind"], r["func_name"], r["thread_name"]), ("trace", FUNCS + "root", "MainThread"))
        tree = r["call_tree"]
        self.assertEqual(tree["func"], FUNCS + "root")
        # Another thread calls middle and leaf all the time: none of it belongs here.
        self.assertEqual(kids(tree), [(FUNCS + "middle", 3), ("math.sqrt", 1)])
        self.assertEqual(kids(child(tree, FUNCS + "middle")), [(FUNCS + "leaf", 6)])
        self.assertTrue(child(tree, "math.sqrt")["builtin"])
        self.assertIsNone(child(tree, "math.sqrt")["file"])
        self.assertEqual(r["node_count"], 4)
        self.assertFalse(r["truncated"])
        self.assertTrue(tree["file"].endswith("tsm/funcs.py"))
        self.assertEqual(tree["line"], 13)
        for n in walk(tree):
            below = sum(c["cost_ns"] for c in n["children"])
            self.assertLessEqual(below, n["cost_ns"])
            self.assertEqual(n["self_ns"], n["cost_ns"] - below)
        self.assertEqual(r["total_duration_ms"], round(tree["cost_ns"] / 1e6, 3))
        self.assertEqual([x["seq"] for x in recs], [1, 2])
        self.assertEqual(self.calltree.returncode, 0, self.calltree.stderr)
        self.assertIn("tsm.funcs.root()", self.calltree.stdout)
        self.assertIn("tsm.funcs.leaf() [6 calls]", self.calltree.stdout)
        self.assertIn("math.sqrt() [builtin]", self.calltree.stdout)

    def test_skip_builtin_and_min_duration(self):
        recs = self.record("trace tsm.funcs.root --skip-builtin")
        self.assertEqual(len(recs), 2)
        self.assertEqual(kids(recs[0]["call_tree"]), [(FUNCS + "middle", 3)])
        self.assertEqual(self.record("trace tsm.funcs.root --min-duration 60000"), [])

    def test_recursion_and_depth(self):
        tree = self.record("trace tsm.funcs.fact -d 10")[0]["call_tree"]
        levels = 0
        while tree["children"]:
            self.assertEqual(kids(tree), [(FUNCS + "fact", 1)])
            tree = tree["children"][0]
            levels += 1
        self.assertEqual(levels, 4)   # fact(5) -> fact(4) ... fact(1)
        r = self.record("trace tsm.funcs.fact -d 2")[0]
        self.assertEqual(r["node_count"], 3)
        inner = r["call_tree"]["children"][0]["children"][0]
        self.assertEqual(inner["children"], [])
        self.assertEqual(inner["self_ns"], inner["cost_ns"])   # deeper calls are its own time

    def test_exceptions_mid_tree(self):
        tree = self.record("trace tsm.funcs.catcher")[0]["call_tree"]
        self.assertEqual(kids(tree), [(FUNCS + "leaf", 2), (FUNCS + "raiser", 1)])
        r = self.record("trace tsm.funcs.failing")[0]
        self.assertFalse(r["success"])
        self.assertEqual(r["throwExp"], "ValueError: bad 5")
        self.assertEqual(kids(r["call_tree"]), [(FUNCS + "leaf", 1), (FUNCS + "middle", 1), (FUNCS + "raiser", 1)])
        self.assertEqual(kids(child(r["call_tree"], FUNCS + "middle")), [(FUNCS + "leaf", 2)])

    def test_generators_and_calls_into_c(self):
        tree = self.record("trace tsm.funcs.consume")[0]["call_tree"]
        s = child(tree, "builtins.sum")
        self.assertTrue(s["builtin"])
        g = child(s, FUNCS + "gen")
        self.assertGreaterEqual(g["count"], 4)   # 3 values and the end
        self.assertEqual(kids(g), [(FUNCS + "leaf", 3)])

    def test_condition(self):
        recs = self.record("trace tsm.funcs.work --condition 'x == 7 or x == 9'")
        self.assertEqual([r["call_tree"]["count"] for r in recs], [1, 1])
        self.assertEqual(len(self.record("trace tsm.funcs.work --condition 'throwExp is not None'")), 34)

    def test_existing_profile_function_keeps_working(self):
        recs = self.record("trace tsm.funcs.root", "trace tsm.funcs.failing", args=("--profile",))
        self.assertEqual(len(recs), 3)
        self.assertIn("PROFILE KEPT middle=7 leaf=20", self.output)

    def test_cprofile_keeps_working(self):
        recs = self.record("trace tsm.funcs.root", args=("--cprofile",))
        self.assertEqual(len(recs), 2)
        self.assertIn("CPROFILE middle=7 leaf=20 root=2", self.output)
        self.assertEqual(kids(recs[0]["call_tree"])[0], (FUNCS + "middle", 3))

    def test_fold_below(self):
        r = self.record("trace tsm.funcs.fold_root", args=("--fold",))[0]
        self.assertEqual(kids(r["call_tree"]), [(FUNCS + "leaf", 1), (FUNCS + "middle", 1), (FUNCS + "slow", 1)])
        self.assertEqual((r["node_count"], r["nodes_folded"]), (6, 0))
        self.assertTrue(all("folded" not in n for n in walk(r["call_tree"])))
        # leaf and middle (with its leaf) take microseconds, slow sleeps 30 ms
        r = self.record("trace tsm.funcs.fold_root --fold-below 10", args=("--fold",))[0]
        tree = r["call_tree"]
        self.assertEqual(kids(tree), [(FUNCS + "slow", 1)])
        self.assertEqual(kids(child(tree, FUNCS + "slow")), [("time.sleep", 1)])
        self.assertEqual(tree["folded"], 3)
        self.assertEqual((r["node_count"], r["nodes_folded"]), (3, 3))
        for n in walk(tree):
            below = sum(c["cost_ns"] for c in n["children"])
            self.assertEqual(n["self_ns"], n["cost_ns"] - below)   # the folded time is the parent's own
        self.assertNotIn("folded", child(tree, FUNCS + "slow"))
        self.assertGreaterEqual(child(tree, FUNCS + "slow")["cost_ns"], 30000000)
        # the threshold is on a node's summed time: 6 leaf calls in middle
        r = self.record("trace tsm.funcs.root --fold-below 0.000001")[0]
        self.assertEqual(r["nodes_folded"], 0)

    def test_with_watch_on_the_same_function(self):
        recs = self.record("watch tsm.funcs.root", "trace tsm.funcs.root", "monitor tsm.funcs.root")
        kinds = sorted(r["kind"] for r in recs)
        self.assertEqual(kinds, ["monitor", "trace", "trace", "watch", "watch"])
        self.assertEqual([r["returnObj"] for r in recs if r["kind"] == "watch"], [19, 19])


class Stack(Launched):
    def test_stack_depth_and_frames(self):
        r = self.record("stack tsm.funcs.stack_c --depth 3")[0]
        self.assertEqual((r["kind"], r["location"], r["params"], r["thread_name"]),
                         ("stack", "AtEnter", [], "MainThread"))
        self.assertEqual([f["function"] for f in r["stack"]], ["stack_c", "stack_b", "stack_a"])
        self.assertEqual([f["lineno"] for f in r["stack"]], [60, 57, 53])
        self.assertTrue(all(f["code_context"] is None for f in r["stack"]))
        full = self.record("stack tsm.funcs.stack_c")[0]["stack"]
        self.assertEqual([f["function"] for f in full], ["stack_c", "stack_b", "stack_a", "calls", "<module>"])
        self.assertTrue(full[3]["filename"].endswith("tsm_calls.py"))

    def test_times_and_condition(self):
        recs = self.record("stack tsm.funcs.leaf -n 4 --condition 'x > 1'")
        self.assertEqual(len(recs), 4)
        self.assertTrue(all(r["params"][0] > 1 for r in recs))
        self.assertEqual(recs[0]["thread_name"], "MainThread")


class Monitor(Launched):
    def test_counts_equal_calls(self):
        recs = self.record("monitor tsm.funcs.work --interval 0.05")
        self.assertGreaterEqual(len(recs), 1)
        self.assertEqual(sum(r["total"] for r in recs), 100)
        self.assertEqual(sum(r["fail"] for r in recs), 34)
        self.assertEqual(sum(r["success"] for r in recs), 66)
        self.assertEqual([r["cycle"] for r in recs], list(range(1, len(recs) + 1)))
        for r in recs:
            self.assertEqual(r["func_name"], FUNCS + "work")
            if r["total"]:
                self.assertEqual(r["fail_rate"], round(r["fail"] / r["total"], 4))
                self.assertLessEqual(r["rt_min"], r["p50"])
                self.assertLessEqual(r["p50"], r["p95"])
                self.assertLessEqual(r["p95"], r["p99"])
                self.assertLessEqual(r["p99"], r["rt_max"])
            for field in ("total", "success", "fail", "fail_rate", "rt_avg", "rt_min", "rt_max",
                          "p50", "p95", "p99", "cycle", "interval_s", "ts_ns", "timestamp", "seq"):
                self.assertIn(field, r)

    def test_cycles_start_when_the_function_is_hooked(self):
        """Intervals that pass before the module is imported are no cycles:
        no gap before cycle 1, and -c counts only intervals that watched."""
        recs = self.record("monitor tsm.funcs.work --interval 0.05", args=("--import-late",))
        self.assertEqual([r["cycle"] for r in recs], list(range(1, len(recs) + 1)))
        self.assertEqual(sum(r["total"] for r in recs), 100)
        recs = self.record("monitor tsm.funcs.work --interval 0.05 -c 1", args=("--import-late",))
        self.assertEqual([r["cycle"] for r in recs], [1])

    def test_glob_one_record_per_function(self):
        recs = self.record("monitor 'tsm.funcs.stack_*' --interval 3600")
        self.assertEqual(sorted((r["func_name"], r["total"]) for r in recs),
                         [(FUNCS + "stack_a", 1), (FUNCS + "stack_b", 1), (FUNCS + "stack_c", 1)])


class Attached(unittest.TestCase):
    def setUp(self):
        self.t = Target("tsm_loop.py", "--profile")
        self.t.wait_for("ready")
        self.tmp = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.tmp.name, "a.tar.zst")

    def tearDown(self):
        self.t.stop()
        self.tmp.cleanup()

    def report(self):
        n = self.t.output().count("REPORT")
        self.t.proc.send_signal(signal.SIGUSR1)
        self.t.wait_for("REPORT", timeout=10)
        import time
        for _ in range(200):
            lines = [l for l in self.t.output().splitlines() if l.startswith("REPORT")]
            if len(lines) > n:
                return lines[-1]
            time.sleep(0.02)
        self.fail("no report")

    def settled_report(self):
        """The report once the agent has given everything back: it releases
        the tool id just after the recorder has hung up."""
        import time
        for _ in range(50):
            line = self.report()
            if "tools=HELD" not in line:
                break
            time.sleep(0.05)
        return line

    def test_trace_detach_restores_profiler(self):
        p = rec("-q", "-p", self.t.pid, "-d", "20", "-o", self.out, "trace", FUNCS + "root", "-n", "5")
        self.assertEqual(p.returncode, 0, p.stderr)
        _, recs, summary, _ = read_archive(self.out)
        self.assertEqual(summary["reason"], "count")
        self.assertEqual(len(recs), 5)
        for r in recs:
            self.assertEqual(kids(r["call_tree"]), [(FUNCS + "middle", 3), ("math.sqrt", 1)])
        self.assertEqual(self.settled_report(), "REPORT profile=KEPT counting=YES identity=OK tools=FREE")

    def test_monitor_cycles(self):
        p = rec("-q", "-p", self.t.pid, "-d", "20", "-o", self.out,
                "monitor", FUNCS + "work", "--interval", "0.2", "-c", "3")
        self.assertEqual(p.returncode, 0, p.stderr)
        _, recs, summary, _ = read_archive(self.out)
        self.assertEqual(summary["reason"], "count")
        self.assertEqual([r["cycle"] for r in recs], [1, 2, 3])
        self.assertTrue(all(r["total"] > 0 and r["interval_s"] == 0.2 for r in recs))
        self.assertEqual(self.settled_report(), "REPORT profile=KEPT counting=YES identity=OK tools=FREE")

    def test_stack_and_trace_together(self):
        p = rec("-q", "-p", self.t.pid, "-d", "20", "-o", self.out,
                "--probe", "stack tsm.funcs.stack_c -n 3", "--probe", "trace tsm.funcs.root -n 3")
        self.assertEqual(p.returncode, 0, p.stderr)
        _, recs, summary, _ = read_archive(self.out)
        self.assertEqual(summary["reason"], "count")
        stacks = [r for r in recs if r["kind"] == "stack"]
        self.assertEqual(len(stacks), 3)
        self.assertEqual([f["function"] for f in stacks[0]["stack"]][:4],
                         ["stack_c", "stack_b", "stack_a", "<module>"])
        self.assertEqual(self.settled_report(), "REPORT profile=KEPT counting=YES identity=OK tools=FREE")


@unittest.skipIf(TARGET_VERSION < (3, 12), "sys.monitoring tools exist from 3.12")
class NoFreeTool(unittest.TestCase):
    def test_install_fails_clearly(self):
        t = Target("tsm_loop.py", "--hog-tools")
        try:
            t.wait_for("ready")
            with tempfile.TemporaryDirectory() as tmp:
                p = rec("-q", "-p", t.pid, "-d", "5", "-o", os.path.join(tmp, "a.tar.zst"),
                        "trace", FUNCS + "root")
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("no free sys.monitoring tool id", p.stderr)
            self.assertIn("0=hog", p.stderr)
            # nothing of the failed install is left behind
            t.proc.send_signal(signal.SIGUSR1)
            t.wait_for("REPORT")
            self.assertIn("identity=OK tools=FREE", t.output())
        finally:
            t.stop()


if __name__ == "__main__":
    unittest.main()
