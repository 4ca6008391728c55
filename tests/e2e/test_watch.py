"""watch, end to end: real interpreter, real agent, real archive."""
import os
import tempfile
import unittest

from peeka_testlib import TARGETS, launch, read_archive

PER_INTERPRETER = True


class WatchLaunch(unittest.TestCase):
    def record(self, *probes, args=(), extra=()):
        with tempfile.TemporaryDirectory() as tmp:
            proc, out = launch(tmp, probes, "wt_calls.py", *args, extra=extra)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertIn("calls done", proc.stdout)
            session, records, summary, _ = read_archive(out)
        self.assertEqual(summary["records"], len(records))
        self.assertEqual(sum(p["observations"] for p in summary["probes"]), len(records))
        return session, records, summary

    def by_func(self, records, name):
        return [r for r in records if r["func_name"] == name]

    def test_values_every_reference(self):
        _, recs, summary = self.record("watch wt.funcs.add")
        adds = self.by_func(recs, "wt.funcs.add")
        # 5 through the module, 1 through `from wt.funcs import add`, 1 in a thread
        self.assertEqual(len(adds), 7)
        self.assertEqual([r["params"] for r in adds[:5]], [[i, 10] for i in range(5)])
        self.assertEqual([r["returnObj"] for r in adds[:5]], [10, 11, 12, 13, 14])
        self.assertEqual(adds[5]["params"], [100, 1])
        first = adds[0]
        for field in ("type", "kind", "probe_id", "watch_id", "seq", "ts_ns", "timestamp", "func_name",
                      "location", "params", "kwargs", "target", "returnObj", "success", "throwExp",
                      "cost", "cost_ns", "thread_id", "thread_name"):
            self.assertIn(field, first)
        self.assertEqual(first["location"], "AtExit")
        self.assertTrue(first["success"])
        self.assertIsNone(first["target"])
        self.assertEqual([r["seq"] for r in adds], list(range(1, 8)))
        self.assertAlmostEqual(first["timestamp"], first["ts_ns"] / 1e9, places=5)
        self.assertEqual(first["cost"], round(first["cost_ns"] / 1e6, 3))
        self.assertEqual(adds[-1]["thread_name"], "helper-thread")
        self.assertEqual(adds[0]["thread_name"], "MainThread")
        self.assertNotEqual(adds[-1]["thread_id"], adds[0]["thread_id"])
        self.assertEqual(summary["reason"], "target-exited")
        self.assertEqual(summary["target_exit"], 0)

    def test_two_probes_on_one_function(self):
        _, recs, summary = self.record("watch wt.funcs.add", "watch wt.funcs.add -n 2 -b")
        self.assertEqual([p["observations"] for p in summary["probes"]], [7, 2])
        self.assertEqual([r["location"] for r in recs if r["probe_id"] == 2], ["AtEnter"] * 2)

    def test_kwargs(self):
        _, recs, _ = self.record("watch wt.funcs.kw")
        self.assertEqual(recs[0]["params"], [1])
        self.assertEqual(recs[0]["kwargs"], {"c": 5})
        self.assertEqual(recs[0]["returnObj"], 8)

    def test_exceptions_and_flags(self):
        _, recs, _ = self.record("watch wt.funcs.boom")          # -f: both
        self.assertEqual([r["location"] for r in recs],
                         ["AtExit", "AtExceptionExit", "AtExit", "AtExceptionExit"])
        failed = recs[1]
        self.assertFalse(failed["success"])
        self.assertEqual(failed["throwExp"], "ValueError: odd 1")
        self.assertEqual(failed["throwTrace"], [{"file": os.path.join(TARGETS, "wt", "funcs.py"),
                                                 "line": 17, "function": "boom"}])
        self.assertIsNone(recs[0]["throwTrace"])
        self.assertIsNone(failed["returnObj"])
        _, recs, _ = self.record("watch wt.funcs.boom -e")
        self.assertEqual([r["params"] for r in recs], [[1], [3]])
        _, recs, _ = self.record("watch wt.funcs.boom -s")
        self.assertEqual([r["params"] for r in recs], [[0], [2]])
        _, recs, _ = self.record("watch wt.funcs.boom -b")
        self.assertEqual([r["location"] for r in recs], ["AtEnter"] * 4)
        self.assertEqual(recs[0]["cost"], 0)
        _, recs, _ = self.record("watch wt.funcs.boom -b -e")
        self.assertEqual(len(recs), 6)

    def test_throw_trace_innermost_frames(self):
        """From the observed function down to the raise, innermost last;
        at most 32 frames, the innermost kept."""
        with tempfile.TemporaryDirectory() as tmp:
            proc, out = launch(tmp, ["watch exd.deep.top -e"], "exc_deep.py", "2", "60")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            recs = read_archive(out)[1]
        self.assertEqual(len(recs), 2)
        src = os.path.join(TARGETS, "exd", "deep.py")
        short = recs[0]["throwTrace"]
        self.assertEqual([(f["function"], f["line"]) for f in short],
                         [("top", 2), ("down", 8), ("down", 8), ("down", 7)])
        self.assertEqual({f["file"] for f in short}, {src})
        deep = recs[1]["throwTrace"]            # 62 frames in all
        self.assertEqual(len(deep), 32)
        self.assertEqual([(f["function"], f["line"]) for f in deep],
                         [("down", 8)] * 31 + [("down", 7)])

    def test_glob_that_matches_nothing_says_why(self):
        """`pkg.*` is what pkg itself defines: a package that re-exports
        gets told so, with patterns that match what it shows."""
        with tempfile.TemporaryDirectory() as tmp:
            proc, out = launch(tmp, ["watch sg.*"], "sg_calls.py", "7")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            recs, summary = read_archive(out)[1:3]
        self.assertEqual(recs, [])
        self.assertEqual(proc.stderr,
                         "peeka-rec: probe 1 (sg.*) matched nothing in sg: each * stands for one name, "
                         "so it matched only what sg itself defines; try sg.*.*, sg.app.App.*, "
                         "sg.app.run\n")
        self.assertEqual(summary["probes"][0]["searched"], "sg")
        self.assertEqual(summary["probes"][0]["suggest"], ["sg.*.*", "sg.app.App.*", "sg.app.run"])
        for pattern, func in (("sg.*.*", "sg.app.run"), ("sg.app.App.*", "sg.app.App.handle")):
            with tempfile.TemporaryDirectory() as tmp:
                proc, out = launch(tmp, ["watch " + pattern], "sg_calls.py", "7")
                recs, summary = read_archive(out)[1:3]
            self.assertEqual(proc.stderr, "")
            self.assertEqual([r["func_name"] for r in recs], [func] * 7)
            self.assertNotIn("suggest", summary["probes"][0])

    def test_condition(self):
        _, recs, summary = self.record("watch wt.funcs.add --condition 'x > 2 and params[1] == 10'")
        self.assertEqual([r["params"][0] for r in recs], [3, 4])
        _, recs, _ = self.record("watch wt.funcs.boom --condition 'throwExp is not None'")
        self.assertEqual([r["params"] for r in recs], [[1], [3]])
        _, recs, summary = self.record("watch wt.funcs.add --condition 'params[5] > 1'")
        self.assertEqual(recs, [])
        self.assertEqual(summary["probes"][0]["condition_errors"], 7)

    def test_times(self):
        _, recs, summary = self.record("watch wt.funcs.add -n 3")
        self.assertEqual(len(recs), 3)
        self.assertEqual(summary["probes"][0]["observations"], 3)

    def test_formatting_limits(self):
        _, recs, _ = self.record("watch wt.funcs.big -x 4")
        r = recs[0]["returnObj"]
        self.assertEqual(len(r["s"]), 1000)
        self.assertEqual(len(r["l"]), 21)
        self.assertEqual(r["l"][-1], "...")
        self.assertEqual(r["b"], "000100010001")
        self.assertEqual(r["bb"], "<bytes len=200>")
        self.assertEqual(r["set"], {"__set__": [1]})
        self.assertEqual(r["nan"], "NaN")
        self.assertEqual(r["inf"], "-Infinity")
        # levels: the dict 1, "deep" 2, its item 3; at level 4 (= -x) the
        # value is named, not looked into (and its repr is not called)
        self.assertEqual(r["deep"], [["<list len=1>"]])
        _, recs, _ = self.record("watch wt.funcs.big -x 1")
        self.assertEqual(recs[0]["returnObj"], "<dict len=8>")
        _, recs, _ = self.record("watch wt.funcs.takes_bad -x 1")
        self.assertEqual(recs[0]["params"], ["<wt.funcs.BadRepr object>"])
        self.assertEqual(recs[0]["returnObj"], 1)

    def test_formatting_runs_no_application_code(self):
        """Values whose repr, str, len, iter, __getattr__, __getattribute__,
        properties, container overrides, metaclass repr and exception __str__
        count their calls: recording them calls none (Django's QuerySet ran
        a query per formatted repr/len)."""
        with tempfile.TemporaryDirectory() as tmp:
            proc, out = launch(tmp, ["watch fmt_safe_mod.take -x 3 -f -b", "watch fmt_safe_mod.fail -x 3"],
                               "fmt_safe.py")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertIn("counts none", proc.stdout)
            _, recs, _, _ = read_archive(out)
        takes = [r for r in recs if r["func_name"] == "fmt_safe_mod.take"]
        self.assertEqual(len(takes), 6)   # 3 calls, entry and exit
        lazy = {"__class__": "fmt_safe_mod.Lazy", "__attrs__": {"model": "Book"}}
        p = takes[0]["params"]
        self.assertEqual(p[0], lazy)
        self.assertEqual(p[1], {"__class__": "fmt_safe_mod.Slotted", "__attrs__": {"x": 1, "y": "two"}})
        self.assertEqual(p[2], [1, 2, 3])                       # a list subclass, as a list
        self.assertEqual(p[3], {"a": 1, "b": lazy})             # a dict subclass, as a dict
        self.assertEqual(p[4], {"__set__": [5]})
        self.assertEqual(p[5], 5)                               # an int subclass, by value
        self.assertEqual(p[6], {"<fmt_safe_mod.Key object>": 1, "2": "two"})
        self.assertEqual(p[7], [lazy])
        self.assertEqual(p[8], "<class fmt_safe_mod.WithMeta>")
        self.assertEqual(p[10], "1" + "0" * 30)
        self.assertEqual(p[11], "1" + "0" * 30)
        self.assertEqual(takes[0]["kwargs"], {"deep": [["<fmt_safe_mod.Lazy object>"]]})
        self.assertEqual(takes[1]["returnObj"], lazy)
        fails = [r for r in recs if r["func_name"] == "fmt_safe_mod.fail"]
        self.assertEqual([r["throwExp"] for r in fails], ["Fails: ('from args', 7)"] * 3)

    def test_repr_opt_in_is_contained(self):
        """--repr shows repr() at the depth limit: called once per value
        formatted, its exception and runaway recursion stay in the agent,
        its text is redacted like a message; without --repr it never runs."""
        with tempfile.TemporaryDirectory() as tmp:
            proc, out = launch(tmp, ["watch repr_mod.take -x 1 -s --repr"], "repr_calls.py")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            recs = read_archive(out)[1]
        self.assertIn("repr calls 3", proc.stdout)
        self.assertEqual([r["params"][0] for r in recs], ["<Counted #%d>" % i for i in (1, 2, 3)])
        self.assertEqual({r["params"][1] for r in recs}, {"<repr_mod.Raises object, repr() failed>"})
        self.assertEqual({r["params"][2] for r in recs}, {"<repr_mod.Recurses object, repr() failed>"})
        self.assertEqual({r["params"][3] for r in recs}, {"Secret(user=ann, password=[redacted])"})
        with tempfile.TemporaryDirectory() as tmp:
            proc, out = launch(tmp, ["watch repr_mod.take -x 1 -s"], "repr_calls.py")
            recs = read_archive(out)[1]
        self.assertIn("repr calls 0", proc.stdout)
        self.assertEqual(recs[0]["params"], ["<repr_mod.Counted object>", "<repr_mod.Raises object>",
                                             "<repr_mod.Recurses object>", "<repr_mod.Secret object>"])

    def test_methods_and_descriptors(self):
        _, recs, _ = self.record("watch wt.funcs.Shape.area", "watch wt.funcs.Shape.make",
                                 "watch wt.funcs.Shape.unit", "watch wt.funcs.Shape.label",
                                 "watch wt.funcs.Shape.Inner.deep")
        names = {r["func_name"]: r for r in recs}
        area = names["wt.funcs.Shape.area"]
        self.assertEqual(area["kwargs"], {"scale": 2})
        self.assertEqual(area["params"], [])
        self.assertEqual(area["target"], {"__class__": "wt.funcs.Shape", "__attrs__": {"name": "sq"}})
        self.assertEqual(area["returnObj"], 20)
        self.assertEqual(names["wt.funcs.Shape.make"]["params"], ["sq"])
        self.assertIn("Shape", names["wt.funcs.Shape.make"]["target"])
        self.assertEqual(names["wt.funcs.Shape.unit"]["returnObj"], "cm")
        self.assertIsNone(names["wt.funcs.Shape.unit"]["target"])
        self.assertEqual(names["wt.funcs.Shape.label"]["returnObj"], "shape:sq")
        self.assertEqual(names["wt.funcs.Shape.Inner.deep"]["returnObj"], "inner")

    def test_globs(self):
        _, recs, summary = self.record("watch 'wt.funcs.Shape.*'")
        got = {r["func_name"] for r in recs}
        self.assertEqual(got, {"wt.funcs.Shape.area", "wt.funcs.Shape.make", "wt.funcs.Shape.unit",
                               "wt.funcs.Shape.label"})
        self.assertNotIn("wt.funcs.Shape.__init__", summary["probes"][0]["installed"])

    def test_decorated(self):
        _, recs, _ = self.record("watch wt.funcs.decorated", "watch wt.funcs.cached")
        names = {r["func_name"]: r for r in recs}
        self.assertEqual(names["wt.funcs.decorated"]["returnObj"], 42)
        self.assertEqual(names["wt.funcs.cached"]["returnObj"], 2)

    def test_async_timed_to_completion(self):
        _, recs, _ = self.record("watch wt.funcs.slow_double", "watch wt.funcs.slow_fail")
        names = {r["func_name"]: r for r in recs}
        ok = names["wt.funcs.slow_double"]
        self.assertEqual(ok["returnObj"], 8)
        self.assertGreaterEqual(ok["cost_ns"], 15_000_000)
        bad = names["wt.funcs.slow_fail"]
        self.assertEqual(bad["location"], "AtExceptionExit")
        self.assertEqual(bad["throwExp"], "KeyError: 'k'")

    def test_generator_is_creation(self):
        _, recs, _ = self.record("watch wt.funcs.gen")
        self.assertEqual(len(recs), 1)
        self.assertIn("generator", str(recs[0]["returnObj"]))

    def test_exit_status_propagates(self):
        with tempfile.TemporaryDirectory() as tmp:
            proc, out = launch(tmp, ["watch wt.funcs.add"], "wt_calls.py", "7")
            self.assertEqual(proc.returncode, 7, proc.stderr)
            _, recs, summary, _ = read_archive(out)
            self.assertEqual(summary["target_exit"], 7)
            self.assertEqual(len(recs), 7)

    def test_never_imported_module_reported(self):
        with tempfile.TemporaryDirectory() as tmp:
            proc, out = launch(tmp, ["watch wt.funcs.add", "watch nosuch.module.fn"], "wt_calls.py")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertIn("probe 2 (nosuch.module.fn) matched nothing", proc.stderr)
            _, _, summary, _ = read_archive(out)
            self.assertEqual(summary["probes"][1]["installed"], [])
            self.assertTrue(summary["probes"][1]["pending"])

    def test_launch_attribute_missing_after_import_reported(self):
        with tempfile.TemporaryDirectory() as tmp:
            proc, out = launch(tmp, ["watch wt.funcs.nope"], "wt_calls.py")
            # wt.funcs is imported after the bootstrap, so the probe waits for it
            self.assertEqual(proc.returncode, 0)
            self.assertIn("matched nothing", proc.stderr)

    def test_bad_condition_rejected(self):
        with tempfile.TemporaryDirectory() as tmp:
            proc, out = launch(tmp, ["watch wt.funcs.add --condition 'x +'"], "wt_calls.py")
            self.assertEqual(proc.returncode, 3, proc.stderr)
            self.assertIn("condition", proc.stderr)
            self.assertIn("col", proc.stderr)
            self.assertNotIn("calls done", proc.stdout)
            self.assertFalse(os.path.exists(out + ".partial"))


if __name__ == "__main__":
    unittest.main()
