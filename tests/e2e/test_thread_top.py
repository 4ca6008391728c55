"""The thread and top probes and their reports, end to end on every
interpreter: a snapshot of 200 parked threads, a thread holding the GIL in
C that a snapshot must not wait for forever, top finding the one busy
function; and the stacks and monitor reports."""
import json
import os
import subprocess
import xml.etree.ElementTree as ET
import tempfile
import time
import unittest

from peeka_testlib import (ANALYZE, REC, TARGET_VERSION, Target, agent_threads, launch, read_archive, rec,
                           target_env)

PER_INTERPRETER = True
SVG = "{http://www.w3.org/2000/svg}"


def analyze(archive, script, *args):
    p = subprocess.run([ANALYZE, archive, script] + list(args), capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise AssertionError("%s exited %d: %s" % (script, p.returncode, p.stderr))
    return p.stdout


class Recorded(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.tmp = tmp.name
        self.out = os.path.join(self.tmp, "t.tar.zst")

    def target(self, *args):
        t = Target("thr_target.py", *args)
        self.addCleanup(t.stop)
        t.wait_for("ready")
        return t

    def record(self, t, *args):
        before = t.threads()
        p = rec("-q", "-p", t.pid, "-o", self.out, *args)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        session, records, summary, _ = read_archive(self.out)
        self.assertEqual(summary["records"], len(records))
        self.assertEqual(sum(q["observations"] for q in summary["probes"]), len(records))
        # the agent's threads end just after their last word to peeka-rec
        end = time.monotonic() + 10
        while time.monotonic() < end and (agent_threads(t.pid) or t.threads() != before):
            time.sleep(0.02)
        self.assertEqual(agent_threads(t.pid), [], "an agent thread outlived the recording")
        self.assertEqual(t.threads(), before)
        return session, records


class Thread(Recorded):
    def test_one_snapshot_of_200_threads(self):
        t = self.target("many", "200")
        start = time.monotonic()
        session, recs = self.record(t, "thread")
        self.assertLess(time.monotonic() - start, 30)   # it ended by itself, without -d
        self.assertEqual(len(recs), 201)
        self.assertEqual({r["cycle"] for r in recs}, {1})
        self.assertEqual({r["thread_count"] for r in recs}, {201})
        self.assertEqual(sorted(r["index"] for r in recs), list(range(1, 202)))
        names = sorted(r["name"] for r in recs)
        self.assertEqual(names, sorted(["MainThread"] + ["w-%03d" % i for i in range(200)]))
        ids = [r["thread_id"] for r in recs]
        self.assertEqual(ids, sorted(ids))   # --sort-by tid
        self.assertEqual(len(set(r["native_id"] for r in recs)), 201)
        for r in recs:
            self.assertEqual(r["tid"], r["thread_id"])
            self.assertTrue(r["alive"])
            if r["name"] == "MainThread":
                self.assertFalse(r["daemon"])
                self.assertEqual(r["state"], "idle")
                self.assertEqual(r["stack"][0]["function"], "<module>")
                continue
            self.assertTrue(r["daemon"])
            self.assertIsNone(r["gil_waiter"])   # one snapshot, no sampler: the GIL's futex is unknown
            self.assertEqual(r["state"], "lock")   # Event.wait: a futex
            self.assertEqual(r["syscall"], "futex")
            fns = [f["function"] for f in r["stack"]]
            self.assertEqual(fns[fns.index("park") + 1], "run")
            self.assertEqual(r["stack_depth"], len(r["stack"]))
            self.assertEqual(r["top_frame"], r["stack"][0])
        self.assertEqual(session["probes"][0]["options"]["cycles"], 1)
        dump = analyze(self.out, "threads")
        self.assertEqual(dump.count("\nThread ") + dump.startswith("Thread "), 201)
        self.assertIn("Snapshot 1 (probe 1)", dump)
        self.assertIn('"w-199" (native %d, daemon): lock: futex' % next(
            r["native_id"] for r in recs if r["name"] == "w-199"), dump)
        self.assertIn("    park (", dump)

    def test_filters_and_order(self):
        t = self.target("many", "5")
        _, recs = self.record(t, "thread", "--sort-by", "name", "--state", "lock", "--depth", "2")
        self.assertEqual([r["name"] for r in recs], ["w-%03d" % i for i in range(5)])
        self.assertEqual({len(r["stack"]) for r in recs}, {2})
        one = recs[3]
        _, recs = self.record(t, "thread", "--tid", one["native_id"])
        self.assertEqual([r["name"] for r in recs], ["w-003"])
        _, recs = self.record(t, "thread", "--tid", "1", "--interval", "0.05", "-c", "3")   # no such thread
        self.assertEqual([(r["cycle"], r["matched"], r["thread_count"]) for r in recs], [(1, 0, 6), (2, 0, 6), (3, 0, 6)])
        self.assertIn("none matched", analyze(self.out, "threads"))

    def test_a_thread_holding_the_gil_in_c(self):
        go = os.path.join(self.tmp, "go")
        t = self.target("stuck", go, "2")
        r = subprocess.Popen([REC, "-q", "-p", str(t.pid), "-d", "5", "-o", self.out, "thread",
                              "--interval", "0.25", "--wait", "0.2"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=target_env())
        end = time.monotonic() + 20
        while not agent_threads(t.pid) and time.monotonic() < end:
            time.sleep(0.02)
        time.sleep(0.6)   # a few snapshots first
        open(go, "w").close()
        _, err = r.communicate(timeout=60)
        self.assertEqual(r.returncode, 0, err)
        t.wait_for("unstuck")
        _, recs, summary, _ = read_archive(self.out)
        self.assertEqual(summary["records"], len(recs))
        stalls = [x for x in recs if x.get("gil_timeout")]
        self.assertEqual(len(stalls), 1, [x.get("gil_timeout") for x in recs])
        s = stalls[0]
        self.assertGreaterEqual(s["waited_ms"], 200)
        self.assertEqual(s["gil_holder"]["name"], "stuck")
        self.assertEqual(s["gil_holder_from"], "gil")
        self.assertEqual(s["gil_holder"]["syscall"], "clock_nanosleep")
        self.assertIn("stuck", [x["name"] for x in s["tasks"]])
        before = [x for x in recs if x["cycle"] < s["cycle"]]
        after = [x for x in recs if x["cycle"] > s["cycle"]]
        self.assertTrue(before and after, "snapshots go on after the GIL comes back")
        self.assertEqual({x["thread_count"] for x in before}, {3})
        self.assertLessEqual({x["thread_count"] for x in after}, {2, 3})   # stuck's call returned, it ends
        dump = analyze(self.out, "threads")
        self.assertRegex(dump, r'no GIL within \d+\.\d+ ms\n  the GIL is held by thread \d+ "stuck" \(native %d\)'
                         % s["gil_holder"]["native_id"])


    def test_a_fork_while_snapshots_are_taken(self):
        go = os.path.join(self.tmp, "go")
        t = Target("thr_target.py", "fork", go)
        self.addCleanup(t.stop)
        t.wait_for("waiting")
        r = subprocess.Popen([REC, "-q", "-p", str(t.pid), "-d", "3", "-o", self.out, "thread",
                              "--interval", "0.01"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=target_env())
        end = time.monotonic() + 20
        while not agent_threads(t.pid) and time.monotonic() < end:
            time.sleep(0.02)
        time.sleep(0.3)
        open(go, "w").close()
        _, err = r.communicate(timeout=60)
        self.assertEqual(r.returncode, 0, err)
        t.wait_for("ready")
        self.assertIn("child tasks 1\n", t.output())   # no agent or sampler thread in the child
        self.assertIn("child status 0\n", t.output())
        _, recs, summary, _ = read_archive(self.out)
        self.assertEqual(summary["records"], len(recs))
        self.assertGreater(len(recs), 10)


class Top(Recorded):
    def test_finds_the_busy_function(self):
        t = self.target("busy")
        _, recs = self.record(t, "top", "-i", "0.01", "-c", "50")
        self.assertEqual(len(recs), 50)   # -c counts samples of threads
        self.assertTrue(all(r["cpu_ns"] > 0 for r in recs))
        # The thread peeka-rec borrowed to get in (ptrace) may still have
        # been running its way back when the first sample came.
        others = [r for r in recs if r["thread_name"] != "burner"]
        self.assertTrue(all(r["cycle"] == 1 for r in others), [(r["thread_name"], r["cycle"]) for r in others])
        burner = [r for r in recs if r["thread_name"] == "burner"]
        cycles = [r["cycle"] for r in burner]
        self.assertEqual(cycles, sorted(set(cycles)))   # one sample of it per round at most
        self.assertEqual({r["stack"][0]["function"] for r in burner}, {"hot"})
        n = len(burner)
        table = analyze(self.out, "top")
        lines = table.splitlines()
        self.assertEqual(lines[0], "50 samples")
        self.assertRegex(lines[3], r"^ *%.2f%% +%.2f%% +%d +%d +hot +\S+thr/funcs\.py$" % (2 * n, 2 * n, n, n))
        folded = analyze(self.out, "collapsed", "--arg", "unit=calls").splitlines()
        self.assertIn([l for l in folded if ";hot (" in l],
                      [[l] for l in folded if l.endswith(";hot (%s) %d" % (burner[0]["stack"][0]["filename"], n))])
        self.check_pictures(recs, burner)

    def check_pictures(self, recs, burner):
        """flamegraph and speedscope draw top's samples: one sample per
        record, the hot frame as wide as the burner's samples."""
        root = ET.fromstring(analyze(self.out, "flamegraph"))
        widths = {}
        for g in root.iter(SVG + "g"):
            if g.get("class") == "f":
                key = g.get("data-n")
                widths[key] = widths.get(key, 0) + float(g.get("data-w"))
        self.assertAlmostEqual(widths["all"], 1.0)
        self.assertAlmostEqual(widths["hot (funcs.py)"], len(burner) / len(recs), places=9)
        doc = json.loads(analyze(self.out, "speedscope"))
        sampled = [p for p in doc["profiles"] if p["type"] == "sampled"]
        self.assertEqual(sum(len(p["samples"]) for p in sampled), len(recs))
        names = [f["name"] for f in doc["shared"]["frames"]]
        hot = [s for p in sampled for s in p["samples"] if names[s[-1]] == "hot (funcs.py)"]
        self.assertEqual(len(hot), len(burner))

    def test_idle_threads_only_with_idle(self):
        t = self.target("busy")
        _, recs = self.record(t, "top", "-i", "0.02", "-c", "25", "--idle")
        self.assertEqual(len(recs), 25)
        rounds = {}
        for r in recs:
            rounds.setdefault(r["cycle"], []).append(r["thread_name"])
        self.assertEqual(len(rounds), 5)   # with --idle, every thread in every round
        for names in rounds.values():
            self.assertEqual(sorted(names), ["MainThread", "burner", "idle-0", "idle-1", "idle-2"])


def task_cpu_ns(pid):
    """{tid: CPU time in ns} of pid's threads (schedstat's first field)."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                out[int(tid)] = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass   # gone meanwhile
    return out


def wait_one_busy(pid):
    """Until only one thread of pid uses CPU: after 'ready' the others still
    need the GIL from the burner to reach their waits, which takes a while
    on a loaded machine."""
    end = time.monotonic() + 30
    while time.monotonic() < end:
        a = task_cpu_ns(pid)
        time.sleep(0.2)
        b = task_cpu_ns(pid)
        if sum(1 for t in b if b[t] != a.get(t)) == 1:
            return
    raise AssertionError("more than one thread of %d kept using CPU" % pid)


class TopOutside(Recorded):
    """top --outside: peeka-rec samples the stacks itself (3.13+), no agent."""

    @unittest.skipUnless(TARGET_VERSION >= (3, 13), "stacks are read from outside on CPython 3.13+")
    def test_finds_the_busy_function(self):
        t = self.target("busy")
        wait_one_busy(t.pid)
        session, recs = self.record(t, "top", "--outside", "-i", "0.002", "-c", "50")
        with open("/proc/%d/maps" % t.pid) as f:
            self.assertNotIn("_peeka_agent", f.read())   # nothing was loaded for it
        table = analyze(self.out, "top")
        _, inside = self.record(t, "top", "-i", "0.01", "-c", "3")
        self.assertEqual(session["attach"]["route"], "outside")
        self.assertEqual(len(recs), 50)
        for r in recs:   # the agent's shape, and how it was read
            self.assertEqual(set(r), set(inside[0]) | {"source", "read_ns"})
            self.assertEqual([set(f) for f in r["stack"]], [set(f) for f in inside[0]["stack"][:len(r["stack"])]])
            self.assertEqual((r["kind"], r["source"], r["sample_ns"], r["interval_s"]), ("top", "remote", 0, 0.002))
            self.assertGreater(r["cpu_ns"], 0)
        # only the burner uses CPU: every sample is of it, in hot, once a round at most
        self.assertEqual({r["native_id"] for r in recs}, {recs[0]["native_id"]})
        with open("/proc/%d/task/%d/comm" % (t.pid, recs[0]["native_id"])) as f:
            self.assertEqual({r["thread_name"] for r in recs}, {f.read().strip()})
        self.assertEqual({(r["stack"][0]["function"], len(r["stack"])) for r in recs}, {("hot", 4)})
        self.assertEqual([f["function"] for f in recs[0]["stack"]], [f["function"] for f in inside[0]["stack"]])
        cycles = [r["cycle"] for r in recs]
        self.assertEqual(cycles, sorted(set(cycles)))
        self.assertEqual([r["seq"] for r in recs], list(range(1, 51)))
        lines = table.splitlines()
        self.assertEqual(lines[0], "50 samples")
        self.assertRegex(lines[3], r"^ *100\.00% +100\.00% +50 +50 +hot +\S+thr/funcs\.py$")

    @unittest.skipIf(TARGET_VERSION >= (3, 13), "before 3.13 only")
    def test_before_313_refused(self):
        t = self.target("busy")
        p = rec("-q", "-p", t.pid, "-o", self.out, "top", "--outside", "-c", "5")
        self.assertEqual(p.returncode, 11, p.stderr)
        self.assertEqual(p.stderr, "peeka-rec: top --outside: pid %d: its threads cannot be read from "
                         "outside: it needs CPython 3.13 or later; without --outside top samples "
                         "through the agent\n" % t.pid)
        self.assertFalse(os.path.exists(self.out))

    def test_only_alone(self):
        p = rec("-p", os.getpid(), "top", "--outside", "thread")
        self.assertEqual(p.returncode, 2)
        self.assertIn("top --outside samples from peeka-rec itself, with no agent: it must be the only "
                      "probe, with -p PID", p.stderr)


class Reports(unittest.TestCase):
    def test_stacks_and_monitor(self):
        with tempfile.TemporaryDirectory() as tmp:
            proc, out = launch(tmp, ["stack thr.funcs.leaf", "monitor thr.funcs.leaf --interval 0.2"],
                               "thr_target.py", "calls")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            _, recs, _, _ = read_archive(out)
            stacks = analyze(out, "stacks")
            monitor = analyze(out, "monitor")
        self.assertEqual(len([r for r in recs if r["kind"] == "stack"]), 5)
        self.assertEqual(sum(r["total"] for r in recs if r["kind"] == "monitor"), 5)
        self.assertTrue(stacks.startswith("5 calls, 2 call paths\n"), stacks)
        groups = stacks.split("\n\n")[1:]
        self.assertTrue(groups[0].startswith("3 calls (60.0%)  thr.funcs.leaf  threads: MainThread"), groups[0])
        self.assertIn("    from_a (", groups[0])
        self.assertTrue(groups[1].startswith("2 calls (40.0%)"), groups[1])
        self.assertIn("    from_b (", groups[1])
        rows = [l for l in monitor.splitlines() if "thr.funcs.leaf" in l]
        self.assertEqual(len(rows), len([r for r in recs if r["kind"] == "monitor"]))
        self.assertEqual(sum(int(l.split()[4]) for l in rows), 5)


if __name__ == "__main__":
    unittest.main()
