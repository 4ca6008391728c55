"""watch on async def functions: each call is timed to the end of its
coroutine, and the program sees its own coroutine, names and tracebacks
as without peeka.  The target (wa_calls.py) runs a fixed scenario and
prints what it saw; a run without peeka gives the expected output.  Launch
and attach mode; after an attach, nothing of peeka is left (3.12+: no
sys.monitoring events on the code, the tool id free)."""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from peeka_testlib import (BUILD, PY, REC, TARGET_VERSION, TARGETS, Target, agent_frame, launch,
                           read_agent_frame, read_archive, rec, target_env)

PER_INTERPRETER = True
WATCH_ALL = ["watch wa.funcs.double", "watch wa.funcs.fail", "watch wa.funcs.forever"]
# the 13 calls of double awaited to their end, in order (wa_calls.py)
DOUBLED = [0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 40, 50, 5]
SLEEP_NS = 20_000_000   # wa.funcs.SLEEP
# asyncio may wake a timer up to its clock resolution early, and it adds
# the delay to a float of the monotonic clock: a few microseconds at most
EARLY_NS = 10_000
AFTER_CLEAN = "AFTER events=0 tools=FREE type=exact identity=OK hooks=0"
_plain = {}


def lines_of(text):
    """The scenario's KEY value lines, up to "scenario done"."""
    lines = text.split("scenario done\n", 1)[0].splitlines()
    return [l for l in lines if l.split(" ", 1)[0].isupper()]


def plain_output():
    """The scenario's lines without peeka, once per interpreter."""
    if PY not in _plain:
        p = subprocess.run([PY, os.path.join(TARGETS, "wa_calls.py"), "run"], capture_output=True,
                           text=True, env=target_env(), cwd=TARGETS, timeout=60, check=True)
        _plain[PY] = lines_of(p.stdout)
    return _plain[PY]


class Checks:
    def assert_program_unchanged(self, output):
        """Every line as without peeka; before 3.12 the proxy's type is its own."""
        want = plain_output()
        got = lines_of(output)
        if TARGET_VERSION < (3, 12):
            want = [l if not l.startswith("TYPE ") else "TYPE other:coroutine" for l in want]
        self.assertEqual(got, want)
        self.assertIn("TYPE exact", plain_output())
        tracebacks = [l for l in got if l.startswith("TRACEBACK ")]
        self.assertEqual(len(tracebacks), 2)
        for tb in tracebacks:
            self.assertNotIn("_peeka", tb)
            self.assertNotIn("<string>", tb)
        self.assertIn("QUALNAME double", got)
        self.assertIn("NAME double", got)
        self.assertIn("CR_CODE True", got)
        self.assertIn("ISCOROUTINE True True True", got)
        self.assertIn("NEVER [\"coroutine 'double' was never awaited\"] collected", got)

    def assert_outcomes(self, recs):
        double = [r for r in recs if r["func_name"] == "wa.funcs.double"]
        self.assertEqual([r["params"] for r in double], [[v] for v in DOUBLED])
        self.assertEqual([r["returnObj"] for r in double], [2 * v for v in DOUBLED])
        self.assertEqual({r["location"] for r in double}, {"AtExit"})
        for r in double:
            self.assertGreater(r["cost_ns"], SLEEP_NS - EARLY_NS)
        fail = [r for r in recs if r["func_name"] == "wa.funcs.fail"]
        self.assertEqual([(r["location"], r["params"], r["throwExp"], r["success"]) for r in fail],
                         [("AtExceptionExit", ["k"], "KeyError: 'k'", False),
                          ("AtExceptionExit", ["n"], "KeyError: 'n'", False)])
        forever = [r for r in recs if r["func_name"] == "wa.funcs.forever"]
        self.assertEqual(len(forever), 1)
        self.assertEqual(forever[0]["location"], "AtExceptionExit")
        self.assertTrue(forever[0]["throwExp"].startswith("CancelledError"))
        self.assertEqual(len(recs), 16)


class Launched(Checks, unittest.TestCase):
    def record(self, *probes):
        with tempfile.TemporaryDirectory() as tmp:
            proc, out = launch(tmp, probes, "wa_calls.py", "run")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertIn("scenario done", proc.stdout)
            _, recs, summary, _ = read_archive(out)
        self.assertEqual(summary["records"], len(recs))
        self.assertEqual(summary["drops"], 0)
        return proc.stdout, recs, summary

    def test_outcomes_and_the_program_unchanged(self):
        out, recs, summary = self.record(*WATCH_ALL)
        self.assert_outcomes(recs)
        self.assertEqual([p["observations"] for p in summary["probes"]], [13, 2, 1])
        self.assert_program_unchanged(out)

    def test_outcome_flags(self):
        _, recs, summary = self.record("watch wa.funcs.fail -e", "watch wa.funcs.double -e",
                                       "watch wa.funcs.double -s -n 4", "watch wa.funcs.fail -s")
        self.assertEqual([p["observations"] for p in summary["probes"]], [2, 0, 4, 0])
        self.assertEqual([r["throwExp"] for r in recs if r["probe_id"] == 1],
                         ["KeyError: 'k'", "KeyError: 'n'"])
        self.assertEqual([r["returnObj"] for r in recs if r["probe_id"] == 3], [0, 2, 4, 20])

    def test_entry_records_at_the_call(self):
        _, recs, _ = self.record("watch wa.funcs.double -b -s")
        enter = [r for r in recs if r["location"] == "AtEnter"]
        self.assertEqual([r["params"] for r in enter], [[v] for v in DOUBLED + [99]])
        self.assertEqual({r["cost"] for r in enter}, {0})
        self.assertEqual([r["returnObj"] for r in recs if r["location"] == "AtExit"],
                         [2 * v for v in DOUBLED])
        self.assertEqual(len(recs), 27)

    def test_inside_a_traced_call(self):
        """trace's events (global while its call runs) and watch's (on
        double's code) reach both through the one tool: each sees double."""
        with tempfile.TemporaryDirectory() as tmp:
            proc, out = launch(tmp, ["watch wa.funcs.double", "trace wa.funcs.run_double -d 64"],
                               "wa_calls.py", "traced")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            _, recs, summary, _ = read_archive(out)
        self.assertIn("TRACED [0, 2, 4]", proc.stdout)
        watch = [r for r in recs if r["kind"] == "watch"]
        self.assertEqual([(r["params"], r["returnObj"]) for r in watch], [([0], 0), ([1], 2), ([2], 4)])
        trees = [r["call_tree"] for r in recs if r["kind"] == "trace"]
        self.assertEqual(len(trees), 3)

        def find(node, name):
            if node["func"] == name:
                return [node]
            return [n for c in node["children"] for n in find(c, name)]
        for tree in trees:   # one node, two resumptions: the start, after the sleep
            self.assertEqual([n["count"] for n in find(tree, "wa.funcs.double")], [2])

    def test_no_leaks(self):
        """131 rounds, each: 50 awaited, one raising, one cancelled, one
        closed unstarted, one never awaited, one dropped while suspended."""
        with tempfile.TemporaryDirectory() as tmp:
            proc, out = launch(tmp, ["watch wa.funcs.quick", "watch wa.funcs.quick_fail",
                                     "watch wa.funcs.forever"], "wa_calls.py", "leaks")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            _, recs, summary, _ = read_archive(out)
        self.assertEqual([p["observations"] for p in summary["probes"]], [131 * 50, 131, 131])
        leaks = [l for l in proc.stdout.splitlines() if l.startswith("LEAKS ")][0].split()
        self.assertLess(int(leaks[1].split("=")[1]), 15)   # half a block per round of 50+ calls
        self.assertEqual(leaks[2], "refs=same")

    def test_with_trace_on_the_same_functions(self):
        out, recs, summary = self.record(*WATCH_ALL, "trace wa.funcs.double", "trace wa.funcs.fail")
        self.assert_outcomes([r for r in recs if r["kind"] == "watch"])
        traces = [r for r in recs if r["kind"] == "trace"]
        # trace's tree is the call itself, which makes the coroutine: 14 and 2
        self.assertEqual([p["observations"] for p in summary["probes"]], [13, 2, 1, 14, 2])
        self.assertEqual(sorted({r["func_name"] for r in traces}), ["wa.funcs.double", "wa.funcs.fail"])
        self.assertTrue(all(r["success"] for r in traces))
        self.assert_program_unchanged(out)


class Attached(Checks, unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.tmp.name, "a.tar.zst")

    def tearDown(self):
        self.tmp.cleanup()

    def after(self, t, want):
        """The target's AFTER line, asked until it is `want` (the agent
        gives the tool id back just after the recorder has hung up)."""
        line = None
        said = lambda: [l for l in t.output().splitlines() if l.startswith("AFTER ")]
        for _ in range(20):
            n = len(said())
            os.kill(t.pid, signal.SIGUSR1)
            for _ in range(250):
                lines = said()
                if len(lines) > n:
                    line = lines[-1]
                    break
                time.sleep(0.02)
            if line == want:
                break
            time.sleep(0.05)
        return line

    def attach(self, probes):
        """Records the scenario in attach mode, ends the recording with
        SIGINT; returns (records, the target's DURING line, its output)
        once nothing of peeka is left in it."""
        t = Target("wa_calls.py", "attach")
        try:
            t.wait_for("ready")
            args = []
            for p in probes:
                args += ["--probe", p]
            p = subprocess.Popen([REC, "-p", str(t.pid), "-q", "-o", self.out] + args,
                                 env=target_env(), stderr=subprocess.PIPE, text=True)
            t.wait_for("DURING", timeout=60)
            p.send_signal(signal.SIGINT)
            self.assertEqual(p.wait(20), 0, p.stderr.read())
            p.stderr.close()
            _, recs, summary, _ = read_archive(self.out)
            self.assertEqual(summary["reason"], "signal")
            self.assertEqual(summary["records"], len(recs))
            self.assertEqual(self.after(t, AFTER_CLEAN), AFTER_CLEAN, t.output()[-3000:])
            self.assertIsNone(t.proc.poll(), "target died")
            out = t.output()
        finally:
            t.stop()
        return recs, [l for l in out.splitlines() if l.startswith("DURING ")][0], out

    def test_outcomes_then_nothing_left(self):
        recs, during, out = self.attach(WATCH_ALL)
        self.assert_outcomes(recs)
        self.assert_program_unchanged(out)
        if TARGET_VERSION < (3, 12):
            self.assertEqual(during, "DURING n/a")
        elif TARGET_VERSION < (3, 15):   # PY_UNWIND cannot be local before 3.15
            self.assertEqual(during, "DURING global=PY_UNWIND local=PY_RETURN")
        else:
            self.assertEqual(during, "DURING global=- local=PY_RETURN|PY_UNWIND")

    @unittest.skipIf(TARGET_VERSION < (3, 12), "sys.monitoring tools exist from 3.12")
    def test_success_only_needs_no_global_event(self):
        recs, during, _ = self.attach(["watch wa.funcs.double -s"])
        self.assertEqual([r["returnObj"] for r in recs], [2 * v for v in DOUBLED])
        local = "PY_RETURN" if TARGET_VERSION < (3, 15) else "PY_RETURN|PY_UNWIND"
        self.assertEqual(during, "DURING global=- local=%s" % local)

    @unittest.skipIf(TARGET_VERSION < (3, 12), "sys.monitoring tools exist from 3.12")
    def test_no_free_tool_id_fails_clearly(self):
        t = Target("wa_calls.py", "attach", "--hog-tools")
        try:
            t.wait_for("ready")
            p = rec("-q", "-p", t.pid, "-d", "5", "-o", self.out, "watch", "wa.funcs.double")
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("cannot hook wa.funcs.double: watch of an async def: no free "
                          "sys.monitoring tool id", p.stderr)
            self.assertIn("0=hog", p.stderr)
            self.assertEqual(self.after(t, AFTER_CLEAN), AFTER_CLEAN)
            self.assertNotIn("scenario done", t.output())
        finally:
            t.stop()


class Removed(unittest.TestCase):
    """The recorder removes the watch probe of an async def while one of its
    coroutines is suspended and a trace probe stays on the function: that
    coroutine is not followed any more (no record, 3.12+: no weak reference
    left on it), its events are off, and the program gets its results."""

    def reply(self, conn, want_id):
        while True:
            t, body = read_agent_frame(conn)
            self.assertIsNotNone(t, "the agent hung up")
            if t == 4 and json.loads(body).get("id") == want_id:
                rep = json.loads(body)
                self.assertTrue(rep["ok"], rep)
                return rep

    def test_remove_while_suspended(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "s.sock")
            srv = socket.socket(socket.AF_UNIX)
            srv.bind(path)
            srv.listen(1)
            srv.settimeout(10)
            proc = subprocess.Popen([PY, os.path.join(TARGETS, "wa_remove.py"), BUILD, path],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, env=target_env(), cwd=TARGETS)
            conn, _ = srv.accept()
            conn.settimeout(10)
            try:
                self.assertEqual(read_agent_frame(conn)[0], 1)
                conn.sendall(agent_frame(2, b'{"proto":1,"lease_ms":10000}'))
                conn.sendall(agent_frame(3, json.dumps({"id": 1, "cmd": "install", "probes": [
                    {"id": 1, "kind": "watch", "pattern": "wa.funcs.double"},
                    {"id": 2, "kind": "trace", "pattern": "wa.funcs.double"}]}).encode()))
                self.reply(conn, 1)
                self.assertEqual(proc.stdout.readline(), "suspended\n")
                conn.sendall(agent_frame(3, b'{"id":2,"cmd":"remove","probe_id":1}'))
                self.reply(conn, 2)
                proc.stdin.write("go\n")
                proc.stdin.flush()
                results = proc.stdout.readline()
                self.assertEqual(proc.stdout.readline(), "done\n")
                conn.sendall(agent_frame(3, b'{"id":3,"cmd":"detach"}'))
                final = self.reply(conn, 3)
            finally:
                conn.close()
                srv.close()
            out, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(err, "")
        local = "0 tool=peeka" if TARGET_VERSION >= (3, 12) else "n/a"
        self.assertEqual(results, "results 0 2 4 weakrefs=0 local=%s\n" % local)
        self.assertEqual(out, "detached active=False hooks=0\n")
        # watch saw double(0) end before it was removed; trace every call
        self.assertEqual([p["observations"] for p in final["probes"]], [1, 3])


if __name__ == "__main__":
    unittest.main()
