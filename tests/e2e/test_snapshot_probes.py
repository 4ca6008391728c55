"""memory, logger, inspect, sc and sm end to end: a real process, the real
agent, the real archive and the built-in reports, on every interpreter.
What they change for a recording (a logger's level, a capture handler,
tracemalloc) is as it was afterwards, and no program code runs to take a
snapshot (sn.model counts every property read in READS)."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from peeka_testlib import ANALYZE, PY, REC, TARGETS, Target, probes_in, read_archive, rec, target_env

PER_INTERPRETER = True
MODEL = os.path.join(TARGETS, "sn", "model.py")
APP = os.path.join(TARGETS, "snap_app.py")


def line_of(path, text):
    """The 1-based line of the first line of path that contains text."""
    with open(path) as f:
        for i, line in enumerate(f, 1):
            if text in line:
                return i
    raise AssertionError("%r not in %s" % (text, path))


def ask_report(t):
    """What snap_app.py says on SIGUSR2, as a dict (got, handlers, level,
    app_level, reads, tracing)."""
    before = t.output().count("REPORT")
    os.kill(t.pid, signal.SIGUSR2)
    end = time.monotonic() + 10
    while t.output().count("REPORT") == before and time.monotonic() < end:
        time.sleep(0.02)
    last = [l for l in t.output().splitlines() if l.startswith("REPORT")][-1]
    return dict(kv.split("=", 1) for kv in last.split()[1:])


def report(archive, script, *args):
    p = subprocess.run([ANALYZE, archive, script] + list(args), capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stderr
    return p.stdout


class Snapshots(unittest.TestCase):
    """Probes that take one snapshot: alone on the command line they end the
    recording at once."""

    @classmethod
    def setUpClass(cls):
        cls.t = Target("snap_app.py")
        cls.t.wait_for("ready")
        cls.tmp = tempfile.mkdtemp(prefix="peeka-snap-")

    @classmethod
    def tearDownClass(cls):
        cls.t.stop()
        shutil.rmtree(cls.tmp, True)

    def snap(self, *probes):
        out = os.path.join(self.tmp, "s.tar.zst")
        args = []
        for p in probes:
            args += ["--probe", p]
        p = rec("-q", "-p", self.t.pid, "-o", out, *args)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        _, recs, summary, _ = read_archive(out)
        self.assertEqual(summary["reason"], "count")
        self.assertEqual(summary["records"], len(recs))
        return recs, out

    def reads(self):
        return ask_report(self.t)

    def test_sc_finds_classes_with_their_lines(self):
        recs, out = self.snap("sc sn.model.*")
        self.assertEqual(len(recs), 1)
        r = recs[0]
        self.assertEqual((r["kind"], r["func_name"], r["at"], r["count"], r["truncated"]),
                         ("sc", "sn.model.*", "start", 3, False))
        got = {c["name"]: (c["module"], c["qualname"], c["file"], c["line"], c["bases"]) for c in r["classes"]}
        self.assertEqual(got, {
            "sn.model.Cart": ("sn.model", "Cart", MODEL, line_of(MODEL, "class Cart:"), ["builtins.object"]),
            "sn.model.Cart.Line": ("sn.model", "Cart.Line", MODEL, line_of(MODEL, "class Line:"),
                                   ["builtins.object"]),
            "sn.model.Registry": ("sn.model", "Registry", MODEL, line_of(MODEL, "class Registry:"),
                                  ["builtins.object"]),
        })
        text = report(out, "classes")
        self.assertIn("sc sn.model.*: 3 classes", text)
        self.assertIn("sn.model.Cart.Line", text)

    def test_jsonl_to_stdout(self):
        p = rec("-q", "-p", self.t.pid, "-o", "-", "sm", "sn.model.Cart", "t*")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = [json.loads(l) for l in p.stdout.splitlines()]
        self.assertEqual([(r["kind"], [m["name"] for m in r["methods"]]) for r in lines], [("sm", ["total"])])

    def test_sm_kinds_signatures_and_lines(self):
        recs, out = self.snap("sm sn.model.Cart")
        r = recs[0]
        got = {m["name"]: (m["kind"], m["signature"], m["async"], m["line"]) for m in r["methods"]}
        self.assertEqual(got, {
            "total": ("function", "(self, discount=0, *extra, rounding=2, **opts)", False,
                      line_of(MODEL, "def total")),
            "empty": ("classmethod", "(cls, owner)", False, line_of(MODEL, "@classmethod")),
            "parse": ("staticmethod", "(text, /, sep=',')", False, line_of(MODEL, "@staticmethod")),
            "size": ("property", "(self)", False, line_of(MODEL, "@property")),
            "summary": ("cached_property", "(self)", False, line_of(MODEL, "@functools.cached_property")),
            "checkout": ("function", "(self, card)", True, line_of(MODEL, "async def checkout")),
        })
        self.assertEqual({m["class"] for m in r["methods"]}, {"sn.model.Cart"})
        self.assertEqual({m["file"] for m in r["methods"]}, {MODEL})
        self.assertEqual(r["count"], 6)
        text = report(out, "classes")
        self.assertIn("sn.model.Cart.total", text)
        self.assertIn("(self, discount=0, *extra, rounding=2, **opts)", text)
        recs, _ = self.snap("sm sn.model.* _*")   # a method pattern; _ names only when asked
        names = sorted((m["class"], m["name"]) for m in recs[0]["methods"])
        self.assertIn(("sn.model.Cart", "_private"), names)
        self.assertIn(("sn.model.Registry", "__getattr__"), names)
        self.assertNotIn("total", [n for _, n in names])
        self.assertEqual(self.reads()["reads"], "0")

    def test_inspect_reads_namespaces_without_running_code(self):
        recs, out = self.snap("inspect --target sn.model.REGISTRY.default --depth 3",
                              "inspect --target sn.model.SETTINGS",
                              "inspect --target sn.model.Cart.size",
                              "inspect --target sn.model.Cart.TAX")
        by = {r["func_name"]: r for r in recs}
        self.assertEqual(len(recs), 4)
        d = by["sn.model.REGISTRY.default"]
        self.assertEqual((d["action"], d["type"]), ("get", "sn.model.Cart"))
        self.assertEqual(d["value"], {"__class__": "sn.model.Cart", "__attrs__": {"owner": "alice", "items": [1, 2, 3]}})
        self.assertEqual(by["sn.model.SETTINGS"]["value"], {"name": "demo", "retries": 3, "password": "[redacted]"})
        self.assertEqual(by["sn.model.Cart.size"]["type"], "builtins.property")
        self.assertEqual(by["sn.model.Cart.TAX"]["value"], 0.2)
        self.assertEqual(self.reads()["reads"], "0", "a property or __getattr__ ran")
        text = report(out, "inspect", "--arg", "indent=0")
        self.assertIn('sn.model.SETTINGS (builtins.dict) =\n{"name":"demo","password":"[redacted]","retries":3}', text)

    def test_inspect_missing_name_is_a_probe_error(self):
        out = os.path.join(self.tmp, "m.tar.zst")
        p = rec("-q", "-p", self.t.pid, "-o", out, "inspect", "--target", "sn.model.REGISTRY.nothing")
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("'nothing' is not in the namespace", p.stderr)
        self.assertEqual(self.reads()["reads"], "0", "__getattr__ ran")
        p = rec("-q", "-p", self.t.pid, "-o", out, "inspect", "--target", "nosuch.module.x")
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("no module of it is imported", p.stderr)

    def test_inspect_counts_instances(self):
        recs, out = self.snap("inspect --action count --type sn.model.Cart",
                              "inspect --action instances --type Cart --limit 2")
        count, inst = recs
        self.assertEqual((count["action"], count["count"], count["types"]),
                         ("count", 3, [{"type": "sn.model.Cart", "count": 3}]))
        self.assertNotIn("instances", count)
        self.assertEqual(inst["count"], 3)
        self.assertEqual(len(inst["instances"]), 2)
        owners = {x["__attrs__"]["owner"] for x in inst["instances"]}
        self.assertLessEqual(owners, {"alice", "bob", "carol"})
        self.assertIn("3 live objects of type sn.model.Cart", report(out, "inspect"))

    def test_memory_overview_and_gc(self):
        recs, out = self.snap("memory", "memory --action gc")
        ov, gc = recs
        self.assertEqual((ov["action"], gc["action"]), ("overview", "gc"))
        self.assertGreater(ov["rss"], 1 << 20)
        self.assertGreater(ov["vms"], ov["rss"])
        self.assertEqual(len(ov["gc"]["threshold"]), 3)
        self.assertEqual(len(ov["gc"]["count"]), 3)
        self.assertGreater(ov["objects"], 1000)
        self.assertEqual(len(ov["types"]), 20)
        counts = [t["count"] for t in ov["types"]]
        self.assertEqual(counts, sorted(counts, reverse=True))
        self.assertIn("builtins.dict", [t["type"] for t in ov["types"]])
        self.assertEqual(len(gc["gc"]["stats"]), 3)
        self.assertEqual(gc["gc"]["garbage"], 0)
        self.assertEqual(ov["tracemalloc"], {"tracing": False, "started_by_peeka": False})
        text = report(out, "memory")
        self.assertIn("memory overview", text)
        self.assertIn("builtins.dict", text)
        self.assertIn("uncollectable", text)

    def test_logger_list_and_get(self):
        recs, out = self.snap("logger", "logger --action get --name sn")
        lst, get = recs
        loggers = {l["name"]: l for l in lst["loggers"]}
        self.assertEqual(sorted(loggers), ["root", "sn", "sn.app", "sn.app.worker"])
        self.assertEqual(lst["count"], 4)
        sn = loggers["sn"]
        self.assertEqual((sn["level"], sn["levelno"], sn["effective_level"], sn["propagate"], sn["disabled"]),
                         ("INFO", 20, "INFO", True, False))
        self.assertEqual(sn["handlers"], [{"class": "__main__.Counting", "level": "NOTSET"}])
        self.assertEqual((loggers["sn.app"]["level"], loggers["sn.app"]["effective_level"]), ("NOTSET", "INFO"))
        self.assertEqual(get["logger"], sn)
        text = report(out, "loggers")
        self.assertIn("4 loggers", text)
        self.assertIn("__main__.Counting", text)

    def test_logger_errors(self):
        out = os.path.join(self.tmp, "e.tar.zst")
        p = rec("-q", "-p", self.t.pid, "-o", out, "logger", "--action", "get", "--name", "no.such")
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("no logger named 'no.such'", p.stderr)
        p = rec("-q", "-p", self.t.pid, "-o", out, "-d", "5", "logger", "--action", "set", "--name", "sn",
                "--level", "LOUD")
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("'LOUD' is no logging level", p.stderr)
        self.assertEqual(self.reads()["level"], "20")


class DuringRecording(unittest.TestCase):
    """Probes that last as long as the recording: started, the program does
    its work (SIGUSR1), the recording ends (SIGINT), and then the program
    reports (SIGUSR2) what it sees."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="peeka-snapd-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def start(self, *target_args):
        self.t = Target("snap_app.py", *target_args)
        self.addCleanup(self.t.stop)
        self.t.wait_for("ready")

    def record(self, *probes, ends="signal", then=()):
        """Records the probes while the program emits (and, for each signal
        in `then`, also does that, waiting for its word)."""
        out = os.path.join(self.tmp, "d.tar.zst")
        args = []
        for p in probes:
            args += ["--probe", p]
        r = subprocess.Popen([REC, "-q", "-p", str(self.t.pid), "-d", "120", "-o", out] + args,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=target_env())
        end = time.monotonic() + 30
        while r.poll() is None and time.monotonic() < end and not probes_in(out):
            time.sleep(0.02)
        self.assertIsNone(r.poll(), r.stderr.read() if r.poll() is not None else "")
        self.during = self.ask()
        os.kill(self.t.pid, signal.SIGUSR1)
        self.t.wait_for("emitted")
        for sig, word in then:
            os.kill(self.t.pid, sig)
            self.t.wait_for(word)
        if ends == "signal":
            r.send_signal(signal.SIGINT)
        _, err = r.communicate(timeout=60)
        self.assertEqual(r.returncode, 0, err)
        self.after = self.ask()
        _, recs, summary, _ = read_archive(out)
        self.assertEqual(summary["records"], len(recs))
        self.assertEqual(summary["reason"], ends)
        return recs, out

    def ask(self):
        return ask_report(self.t)

    def test_logger_set_lasts_for_the_recording_only(self):
        self.start()
        recs, out = self.record("logger --action set --name sn.app --level debug")
        self.assertEqual(self.during["app_level"], "10")
        self.assertEqual(self.after["app_level"], "0", "the level was not restored")
        start, end = recs
        self.assertEqual((start["at"], start["previous_level"], start["logger"]["level"],
                          start["logger"]["effective_level"]), ("start", "NOTSET", "DEBUG", "DEBUG"))
        self.assertEqual((end["at"], end["restored"], end["logger"]["level"], end["logger"]["effective_level"]),
                         ("end", True, "NOTSET", "INFO"))
        # sn.app at DEBUG, but sn's handler took them: the debug records are made and delivered
        self.assertIn("never made 1", self.t.output())
        text = report(out, "loggers")
        self.assertIn("set sn.app: NOTSET -> DEBUG", text)
        self.assertIn("at the end: sn.app is NOTSET (restored)", text)

    def test_logger_set_keeps_a_level_the_program_set_meanwhile(self):
        self.start()
        recs, _ = self.record("logger --action set --name sn.app --level DEBUG", then=[(signal.SIGHUP, "changed")])
        self.assertEqual(self.after["app_level"], "40")
        self.assertEqual((recs[1]["restored"], recs[1]["logger"]["level"]), (False, "ERROR"))

    def test_a_forked_child_gets_everything_back(self):
        self.start()
        self.record("logger --action set --name sn.app --level DEBUG", "logger --capture --name sn",
                    "memory --action diff", then=[(signal.SIGWINCH, "forked")])
        self.assertEqual(self.during["app_level"], "10")
        self.assertIn("CHILD app_level=0 factory=LogRecord tracing=False", self.t.output())
        self.assertEqual((self.after["app_level"], self.after["factory"], self.after["tracing"]),
                         ("0", "LogRecord", "False"))

    def test_capture_ends_the_recording_after_n(self):
        self.start()
        recs, _ = self.record("logger --capture --name sn -n 3", ends="count")
        self.assertEqual([r["message"] for r in recs], ["order %d of alice" % i for i in range(3)])
        self.assertEqual(self.after["got"], "8")
        self.assertEqual(self.after["handlers"], "Counting")

    def test_capture_records_every_log_record_and_changes_nothing(self):
        self.start()
        recs, out = self.record("logger --capture --name sn", "logger --capture --name sn --level WARNING")
        self.assertEqual(self.during["handlers"], "Counting", "the capture touched the program's handlers")
        self.assertEqual(self.during["factory"], "PeekaLogRecordFactory")
        self.assertEqual(self.after["factory"], "LogRecord", "the record factory was not put back")
        self.assertEqual(self.after["handlers"], "Counting")
        self.assertEqual(self.after["got"], "8", "the program's own handler lost records")
        self.assertEqual(self.after["level"], "20")
        every = [r for r in recs if r["probe_id"] == 1]
        warn = [r for r in recs if r["probe_id"] == 2]
        self.assertEqual(len(every), 8)
        self.assertEqual(len(warn), 3)
        self.assertEqual([(r["logger"], r["level"], r["message"], r["thread_name"]) for r in every],
                         [("sn.app", "INFO", "order %d of alice" % i, "MainThread") for i in range(5)] +
                         [("sn.app.worker", "WARNING", "slow request /cart took %.1f ms" % (12.5 + i), "worker-1")
                          for i in range(3)])
        self.assertEqual([r["message"] for r in warn], [r["message"] for r in every[5:]])
        self.assertEqual(every[0]["msg"], "order %d of %s")
        self.assertEqual(every[0]["args"], [0, "alice"])
        self.assertEqual(every[0]["file"], APP)
        self.assertEqual(every[0]["function"], "emit")
        self.assertEqual([r["seq"] for r in every], list(range(1, 9)))
        mine = [l for l in self.t.output().splitlines() if l.startswith("MESSAGES")][-1]
        self.assertEqual(mine[len("MESSAGES "):].split("|"), [r["message"] for r in every])
        text = report(out, "logs")
        self.assertEqual(text.count("order "), 5)
        self.assertEqual(text.count("slow request"), 6)   # both probes
        self.assertIn("[worker-1]", text)
        counts = report(out, "logs", "--arg", "mode=count", "--arg", "level=WARNING")
        self.assertRegex(counts, r"sn\.app\.worker\s+WARNING\s+6")

    def test_memory_diff_starts_and_stops_tracemalloc(self):
        self.start()
        recs, out = self.record("memory --action diff --limit 5", "memory --action top --limit 5")
        self.assertEqual(self.during["tracing"], "True")
        self.assertEqual(self.after["tracing"], "False", "tracemalloc left running")
        diff, top = sorted(recs, key=lambda r: r["probe_id"])
        site = line_of(APP, "ALLOCATION SITE")
        self.assertEqual((diff["at"], diff["action"]), ("end", "diff"))
        self.assertTrue(diff["tracemalloc"]["started_by_peeka"])
        first = diff["diff"][0]
        self.assertEqual((first["file"], first["line"]), (APP, site))
        self.assertGreaterEqual(first["size_diff"], 300 * 1000)
        self.assertGreaterEqual(first["count_diff"], 300)
        self.assertEqual(len(diff["diff"]), 5)
        self.assertEqual((top["top"][0]["file"], top["top"][0]["line"]), (APP, site))
        self.assertIn("rss_start", diff)
        text = report(out, "memory")
        self.assertIn("%s:%d" % (APP, site), text)
        self.assertIn("growth", text)

    def test_memory_diff_leaves_the_programs_tracemalloc_running(self):
        self.start("--trace")
        recs, _ = self.record("memory --action diff --limit 3")
        self.assertEqual(self.after["tracing"], "True")
        self.assertFalse(recs[0]["tracemalloc"]["started_by_peeka"])
        self.assertEqual(recs[0]["diff"][0]["line"], line_of(APP, "ALLOCATION SITE"))


class Usage(unittest.TestCase):
    """Options that do not go together are usage errors before the target
    is touched."""

    def test_refused(self):
        for args, words in ((["logger", "--action", "set", "--name", "x"], "needs --name and --level"),
                            (["logger", "--capture", "--action", "get"], "--capture takes no --action"),
                            (["inspect"], "inspect needs --target"),
                            (["inspect", "--action", "count"], "inspect --action count needs --type"),
                            (["memory", "--action", "peak"], "--action is one of overview|gc|top|diff"),
                            (["sc", "--limit", "3"], "sc needs a PATTERN"),
                            (["inspect", "--target", "a." * 600], "longer than 1023 bytes")):
            with self.subTest(args=args[:4]):
                p = rec("-p", "4194305", *args)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(words, p.stderr)


class Launched(unittest.TestCase):
    """Launch mode: a snapshot is taken when the program ends (at install it
    has not run yet); a capture starts with the program."""

    def test_snapshot_at_the_end_and_capture_from_the_start(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "l.tar.zst")
            p = rec("-q", "-o", out, "--probe", "sc sn.model.C*", "--probe", "logger --capture --name sn",
                    "--", PY, os.path.join(TARGETS, "snap_launch.py"))
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, "launched 1\nlaunched 2\ndone\n")
            _, recs, summary, _ = read_archive(out)
        sc = [r for r in recs if r["kind"] == "sc"]
        logs = [r for r in recs if r["kind"] == "logger"]
        self.assertEqual(len(sc), 1)
        self.assertEqual((sc[0]["at"], [c["name"] for c in sc[0]["classes"]]),
                         ("end", ["sn.model.Cart", "sn.model.Cart.Line"]))
        self.assertEqual([(r["logger"], r["level"], r["message"]) for r in logs],
                         [("sn.app", "INFO", "launched 1"), ("sn.app.worker", "ERROR", "launched 2")])
        self.assertEqual(summary["records"], 3)


if __name__ == "__main__":
    unittest.main()
