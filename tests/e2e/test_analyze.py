"""End-to-end tests of peeka-analyze's built-in scripts and Lua API over
archives written by archive_fixture (docs/format.md), checking every
output against what the test recorded."""
import json
import math
import os
import random
import shutil
import subprocess
import tempfile
import time
import unittest

import archive_fixture as af
from peeka_testlib import tool_env

PER_INTERPRETER = False
BUILD = os.environ.get("PEEKA_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
ANALYZE = os.path.join(BUILD, "bin", "peeka-analyze")


def run(*args, check_rc=None):
    p = subprocess.run([ANALYZE] + [str(a) for a in args], capture_output=True, text=True, timeout=120,
                       env=tool_env(dict(os.environ), False))
    if check_rc is not None and p.returncode != check_rc:
        raise AssertionError("exit %d (wanted %d)\nstdout: %s\nstderr: %s"
                             % (p.returncode, check_rc, p.stdout[-3000:], p.stderr[-3000:]))
    return p


def nearest_rank(values, p):
    v = sorted(values)
    return v[max(1, math.ceil(p / 100 * len(v))) - 1]


class Recorded:
    """The records the tests write, and what each script must say about them."""

    def __init__(self, tmp):
        rnd = random.Random(7)
        self.watch = []
        seq = 0
        for i in range(200):
            seq += 1
            self.watch.append(af.watch_record("app.cart.Cart.total", rnd.randrange(1000, 90000), seq=seq,
                                              params=[i, "EUR"], ret=41.5))
        for i in range(50):
            seq += 1
            throw = ("ValueError: bad sku %d" % (i % 2)) if i % 5 == 0 else None
            self.watch.append(af.watch_record("app.views.checkout", 1000000 + 7919 * i, seq=seq,
                                              params=[{"sku": "A-%d" % i}], throw=throw,
                                              thread_name="worker-1", thread_id=2))
        seq += 1
        self.watch.append(af.watch_record("app.db.query", 9000000, seq=seq, params=["SELECT 1"],
                                          throw="KeyError: 'user'"))
        t1 = af.node("calculator.Calculator.calculate", 125300000, [
            af.node("calculator.Calculator.add", 80100000, [af.node("builtins.sum", 1000000, builtin=True)]),
            af.node("calculator.Calculator.mul", 45200000, count=2)])
        t2 = af.node("calculator.Calculator.calculate", 100000000, [af.node("calculator.Calculator.add", 60000000)])
        self.traces = [af.trace_record(t1, seq=1, ts_ns=af.START_NS + 5 * 10**9),
                       af.trace_record(t2, seq=2, ts_ns=af.START_NS + 6 * 10**9)]
        self.path = os.path.join(tmp, "rec-1.tar.zst")
        af.write_archive(self.path, self.watch + self.traces, chunk_bytes=8000)


class AnalyzeScripts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="peeka-analyze-test-")
        cls.rec = Recorded(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def by_func(self):
        groups = {}
        for r in self.rec.watch:
            groups.setdefault(r["func_name"], []).append(r)
        return groups

    def test_summary_json_matches_recorded(self):
        out = json.loads(run(self.rec.path, "summary", "--format", "json", check_rc=0).stdout)
        rows = {r["function"]: r for r in out["rows"]}
        for f, recs in self.by_func().items():
            costs = [r["cost_ns"] for r in recs]
            row = rows[f]
            self.assertEqual(row["calls"], len(recs), f)
            self.assertEqual(row["errors"], sum(1 for r in recs if not r["success"]), f)
            self.assertEqual(row["max"], max(costs))
            self.assertEqual(row["total"], sum(costs))
            self.assertAlmostEqual(row["mean"], sum(costs) / len(costs), places=3)
            for p in (50, 95, 99):
                self.assertEqual(row["p%d" % p], nearest_rank(costs, p), (f, p))
        self.assertEqual(set(rows), set(self.by_func()))
        # default order: total cost, largest first
        totals = [rows[r["function"]]["total"] for r in out["rows"]]
        self.assertEqual(totals, sorted(totals, reverse=True))

    def test_summary_text_and_markdown(self):
        text = run(self.rec.path, "summary", check_rc=0).stdout.splitlines()
        self.assertTrue(text[0].startswith("function"))
        self.assertTrue(set(text[1]) <= {"-", " "})
        self.assertIn("app.views.checkout", text[2])     # largest total first
        md = run(self.rec.path, "summary", "--format", "markdown", "--arg", "top=1", check_rc=0).stdout
        lines = md.strip().splitlines()
        self.assertEqual(lines[0], "| function | calls | errors | mean | p50 | p95 | p99 | max | total |")
        self.assertEqual(lines[1], "|:---|---:|---:|---:|---:|---:|---:|---:|---:|")
        self.assertEqual(len(lines), 3)
        self.assertIn("| app.views.checkout | 50 | 10 |", lines[2])

    def test_info(self):
        info = json.loads(run(self.rec.path, "info", "-f", "json", check_rc=0).stdout)[0]
        self.assertEqual(info["records"], len(self.rec.watch) + len(self.rec.traces))
        self.assertEqual(info["kinds"], {"watch": len(self.rec.watch), "trace": 2})
        self.assertTrue(info["complete"])
        self.assertEqual(info["drops"], 0)
        self.assertEqual(info["pid"], 4242)
        self.assertEqual(info["duration_ns"], 60 * 10**9)
        self.assertEqual(info["functions"], 4)
        text = run(self.rec.path, "info", check_rc=0).stdout
        self.assertIn("complete   yes (ended by duration)", text)
        self.assertIn("pid 4242 on web-1, python 3.11.2, python3 app.py", text)

    def test_slowest(self):
        out = json.loads(run(self.rec.path, "slowest", "--arg", "n=3", "-f", "json", check_rc=0).stdout)
        want = sorted(self.rec.watch, key=lambda r: -r["cost_ns"])[:3]
        self.assertEqual([r["cost"] for r in out["rows"]], [r["cost_ns"] for r in want])
        self.assertEqual(out["rows"][0]["function"], "app.db.query")
        self.assertEqual(out["rows"][0]["arguments"], '["SELECT 1"]')
        self.assertEqual(out["rows"][0]["outcome"], "raised KeyError: 'user'")
        self.assertEqual(out["rows"][1]["arguments"], '[{"sku":"A-49"}]')

    def test_exceptions(self):
        out = json.loads(run(self.rec.path, "exceptions", "-f", "json", check_rc=0).stdout)
        got = {(r["exception"], r["message"]): (r["count"], r["functions"]) for r in out["rows"]}
        # one group for "bad sku 0" and "bad sku 1", shown by its first message
        self.assertEqual(got, {("ValueError", "bad sku 0"): (10, "app.views.checkout"),
                               ("KeyError", "'user'"): (1, "app.db.query")})
        exact = json.loads(run(self.rec.path, "exceptions", "--arg", "by=exact", "-f", "json",
                               check_rc=0).stdout)
        got = {(r["exception"], r["message"]): (r["count"], r["functions"]) for r in exact["rows"]}
        self.assertEqual(got, {("ValueError", "bad sku 0"): (5, "app.views.checkout"),
                               ("ValueError", "bad sku 1"): (5, "app.views.checkout"),
                               ("KeyError", "'user'"): (1, "app.db.query")})
        by_type = json.loads(run(self.rec.path, "exceptions", "--arg", "by=type", "-f", "json",
                                 check_rc=0).stdout)
        self.assertEqual([(r["exception"], r["count"]) for r in by_type["rows"]],
                         [("ValueError", 10), ("KeyError", 1)])

    def test_exceptions_normalised(self):
        msgs = ["invalid literal for int() with base 10: 'x%d'" % i for i in range(7)] + \
               ["object at 0x7f%06x is gone after %d.%d s" % (i, i, i) for i in range(5)] + \
               ['no row "id=%d" in table t2' % i for i in range(3)] + ["step2 failed"]
        recs = [af.watch_record("app.f", 1000, seq=i + 1, throw="ValueError: " + m) for i, m in enumerate(msgs)]
        path = os.path.join(self.tmp, "exc.tar.zst")
        af.write_archive(path, recs)
        out = json.loads(run(path, "exceptions", "-f", "json", check_rc=0).stdout)
        got = [(r["count"], r["message"]) for r in out["rows"]]
        self.assertEqual(got, [(7, "invalid literal for int() with base 10: 'x0'"),
                               (5, "object at 0x7f000000 is gone after 0.0 s"),
                               (3, 'no row "id=0" in table t2'), (1, "step2 failed")])

    def test_exceptions_raised_at(self):
        """The innermost frame of throwTrace, most frequent first; older
        archives without throwTrace leave the column empty."""
        def trace(line, fn):
            return [{"file": "/srv/app/views.py", "line": 10, "function": "checkout"},
                    {"file": "/srv/app/stock.py", "line": line, "function": fn}]
        recs = []
        for i, (line, fn) in enumerate([(7, "reserve")] * 3 + [(9, "release")]):
            r = af.watch_record("app.views.checkout", 1000, seq=i + 1, throw="ValueError: no stock")
            r["throwTrace"] = trace(line, fn)
            recs.append(r)
        recs.append(af.watch_record("app.db.query", 1000, seq=5, throw="KeyError: 'user'"))
        path = os.path.join(self.tmp, "where.tar.zst")
        af.write_archive(path, recs)
        out = json.loads(run(path, "exceptions", "-f", "json", check_rc=0).stdout)
        got = {r["exception"]: (r["count"], r["raised at"]) for r in out["rows"]}
        self.assertEqual(got, {"ValueError": (4, "stock.py:7 in reserve (+1 more)"),
                               "KeyError": (1, "")})

    def test_calltree_each(self):
        out = run(self.rec.path, "calltree", "--arg", "mode=each", check_rc=0).stdout.splitlines()
        self.assertEqual(out[1:5], [
            "`---[125.3ms] calculator.Calculator.calculate()",
            "    +---[80.10ms] calculator.Calculator.add()",
            "    |   `---[1.000ms] builtins.sum() [builtin]",
            "    `---[45.20ms] calculator.Calculator.mul() [2 calls]"])
        self.assertTrue(out[0].startswith("ts=") and "thread_name=MainThread" in out[0])
        self.assertEqual(out[7:9], ["`---[100.0ms] calculator.Calculator.calculate()",
                                    "    `---[60.00ms] calculator.Calculator.add()"])

    def test_calltree_merged(self):
        out = run(self.rec.path, "calltree", check_rc=0).stdout.splitlines()
        self.assertEqual(out, [
            "2 traces of calculator.Calculator.calculate, total=225.3ms",
            "`---[225.3ms] calculator.Calculator.calculate() [2 calls]",
            "    +---[140.1ms] calculator.Calculator.add() [2 calls]",
            "    |   `---[1.000ms] builtins.sum() [builtin]",
            "    `---[45.20ms] calculator.Calculator.mul() [2 calls]"])

    def test_chrometrace(self):
        doc = json.loads(run(self.rec.path, "chrometrace", check_rc=0).stdout)
        ev = doc["traceEvents"]
        slices = [e for e in ev if e["ph"] == "X"]
        self.assertEqual(len([e for e in slices if e["cat"] == "watch"]), len(self.rec.watch))
        trace = [e for e in slices if e["cat"] == "trace"]
        self.assertEqual(len(trace), 4 + 2)
        root = trace[0]
        self.assertEqual(root["name"], "calculator.Calculator.calculate")
        self.assertAlmostEqual(root["dur"], 125300.0)
        for child in trace[1:4]:      # nested inside the root
            self.assertGreaterEqual(child["ts"], root["ts"])
            self.assertLessEqual(child["ts"] + child["dur"], root["ts"] + root["dur"] + 1e-6)
        w = [e for e in slices if e["cat"] == "watch"][0]
        r = self.rec.watch[0]
        self.assertAlmostEqual(w["ts"], (r["ts_ns"] - af.START_NS) / 1000)   # ts_ns: the call's start
        self.assertTrue(any(e["ph"] == "M" and e["name"] == "thread_name" for e in ev))

    def test_collapsed(self):
        out = run(self.rec.path, "collapsed", "--arg", "unit=ns", "--arg", "func=calculator.*",
                  check_rc=0).stdout.splitlines()
        self.assertEqual(out, [
            "calculator.Calculator.calculate 40000000",
            "calculator.Calculator.calculate;calculator.Calculator.add 139100000",
            "calculator.Calculator.calculate;calculator.Calculator.add;builtins.sum 1000000",
            "calculator.Calculator.calculate;calculator.Calculator.mul 45200000"])
        calls = run(self.rec.path, "collapsed", "--arg", "unit=calls", "--arg", "func=app.db.*",
                    check_rc=0).stdout.splitlines()
        self.assertEqual(calls, ["app.db.query 1"])

    def test_slice_roundtrip(self):
        out = os.path.join(self.tmp, "slice.tar.zst")
        p = run(self.rec.path, "slice", "--arg", "out=" + out, "--arg", "func=app.views.*",
                "--arg", "errors=true", check_rc=0)
        self.assertIn("10 records", p.stdout)
        s = json.loads(run(out, "summary", "-f", "json", check_rc=0).stdout)
        self.assertEqual([(r["function"], r["calls"], r["errors"]) for r in s["rows"]],
                         [("app.views.checkout", 10, 10)])
        info = json.loads(run(out, "info", "-f", "json", check_rc=0).stdout)[0]
        self.assertTrue(info["complete"])
        self.assertEqual(info["records"], 10)
        # the records are copied byte for byte
        lines = run(out, "-e", "for r in peeka.records{} do print(r) end", check_rc=0).stdout.splitlines()
        want = [af.dumps(r) for r in self.rec.watch if r["func_name"] == "app.views.checkout" and not r["success"]]
        self.assertEqual(lines, want)
        by_time = os.path.join(self.tmp, "slice-time.tar.zst")
        run(self.rec.path, "slice", "--arg", "out=" + by_time, "--arg", "from=5s", "--arg", "to=5.5s", check_rc=0)
        kinds = run(by_time, "-e", "for r in peeka.records{} do print(r.kind, r.seq) end", check_rc=0).stdout
        self.assertEqual(kinds, "trace\t1\n")

    def test_list_and_describe(self):
        out = run("-l", check_rc=0).stdout
        names = [l.split()[0] for l in out.splitlines()]
        for s in ("calltree", "chrometrace", "collapsed", "compare", "exceptions", "info", "slice",
                  "slowest", "summary"):
            self.assertIn(s, names)
        for line in out.splitlines():
            self.assertGreater(len(line.split(None, 1)), 1, line)
        d = run("-i", "summary", check_rc=0).stdout
        self.assertIn("summary - Per-function calls", d)
        self.assertIn("top=integer", d)
        self.assertIn("(default: total)", d)


class LuaApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="peeka-analyze-api-")
        cls.rec = Recorded(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def script(self, body, name="s.lua"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(body)
        return path

    def test_filters_run_before_lua(self):
        code = ('local n=0 for r in peeka.records{kind="watch", func="app.views.*", min_cost=1.2} do '
                'n=n+1 assert(r.cost_ns >= 1200000) end print(n)')
        want = sum(1 for r in self.rec.watch if r["func_name"] == "app.views.checkout" and r["cost_ns"] >= 1200000)
        self.assertEqual(run(self.rec.path, "-e", code, check_rc=0).stdout.strip(), str(want))
        code = 'local n=0 for r in peeka.records{thread="worker-*", errors=false} do n=n+1 end print(n)'
        self.assertEqual(run(self.rec.path, "-e", code, check_rc=0).stdout.strip(), "40")

    def test_int64_fields_and_types(self):
        code = ('for r in peeka.records{kind="watch"} do print(math.type(r.ts_ns), r.ts_ns, '
                'math.type(r.cost_ns), r.params[2], r.success, r.throwExp, r.returnObj, r.nosuch) break end')
        first = self.rec.watch[0]
        self.assertEqual(run(self.rec.path, "-e", code, check_rc=0).stdout.strip().split("\t"),
                         ["integer", str(first["ts_ns"]), "integer", "EUR", "true", "nil", "41.5", "nil"])

    def test_callbacks(self):
        path = self.script('''
peeka.script{description = "callbacks", args = {{name = "limit", type = "integer", default = 3}}}
peeka.filter{func = "app.views.*"}
local starts, watches, traces = 0, 0, 0
function on_start(info) starts = starts + 1; assert(info.session.target.pid == 4242) end
function on_watch(r) watches = watches + 1 end
function on_trace(r) traces = traces + 1 end
function on_end()
  print(starts, watches, traces, peeka.args.limit, peeka.archives[1].complete)
  if watches > peeka.args.limit then peeka.fail("too many: " .. watches) end
end
''')
        p = run(self.rec.path, path, "--arg", "limit=100", check_rc=0)
        self.assertEqual(p.stdout.strip(), "1\t50\t0\t100\ttrue")
        p = run(self.rec.path, path, check_rc=1)
        self.assertIn("too many: 50", p.stderr)

    def test_helpers(self):
        code = r'''
local s = peeka.stats()
for i = 1, 100 do s:add(i) end
print(s:count(), s:p(50), s:p(95), s:min(), s:max(), s:mean())
print(peeka.duration(125300000), peeka.duration(999), peeka.duration(45600), peeka.bytes(1536))
local j = peeka.json.decode('{"a":[1,2,null,{"b":"\\u00e9"}],"n":1e3}')
print(#j.a, j.a[3] == peeka.json.null, j.a[4].b, j.n, peeka.json.encode(j))
print(peeka.tree({func="a", children={{func="b", children={{func="c"}}}, {func="d"}}}))
local g = peeka.group() g:add("x", 1) g:add("x", 3) g:add("y", 2)
for k, st in g:each() do io.write(k, "=", st:sum(), " ") end print()
'''
        out = run(self.rec.path, "-e", code, check_rc=0).stdout.splitlines()
        self.assertEqual(out[0], "100\t50\t95\t1\t100\t50.5")
        self.assertEqual(out[1], "125.3ms\t999ns\t45.60us\t1.5 KiB")
        self.assertEqual(out[2], '4\ttrue\t\u00e9\t1000.0\t{"a":[1,2,null,{"b":"\u00e9"}],"n":1000.0}')
        self.assertEqual(out[3:7], ["`---a", "    +---b", "    |   `---c", "    `---d"])
        self.assertEqual(out[8], "x=4 y=2 ")

    def test_welch_and_t_quantile(self):
        code = ('local a, b = peeka.stats(), peeka.stats() for i = 1, 4 do a:add(i) end '
                'for i = 1, 5 do b:add(2 * i) end local w = peeka.welch(a, b) '
                'print(w.diff, string.format("%.12f %.12f %.12f", w.se, w.df, w.p), '
                'string.format("%.9f", peeka.t_quantile(0.995, 4)))')
        out = run(self.rec.path, "-e", code, check_rc=0).stdout.split()
        self.assertEqual(out[0], "-3.5")
        self.assertAlmostEqual(float(out[1]), math.sqrt(29 / 12), places=12)
        self.assertAlmostEqual(float(out[2]), 5.520787746170677, places=9)
        self.assertAlmostEqual(float(out[3]), 0.0691335931923938, places=9)
        self.assertEqual(out[4], "4.604094871")
        p = run(self.rec.path, "-e", "local a = peeka.stats() a:add(1) peeka.welch(a, a)", check_rc=2)
        self.assertIn("peeka.welch: both samples need at least two values (have 1 and 1)", p.stderr)
        p = run(self.rec.path, "-e", "peeka.t_quantile(1.5, 3)", check_rc=2)
        self.assertIn("need 0 < p < 1 and df > 0", p.stderr)

    def test_stats_bounded_memory_and_accuracy(self):
        code = ('local s = peeka.stats() for i = 1, 200000 do s:add(i * 1000) end '
                'print(s:exact(), s:p(50), s:p(99), s:max())')
        exact, p50, p99, mx = run(self.rec.path, "-e", code, check_rc=0).stdout.split()
        self.assertEqual(exact, "false")
        self.assertLess(abs(float(p50) / 100000000 - 1), 0.004)
        self.assertLess(abs(float(p99) / 198000000 - 1), 0.004)
        self.assertEqual(mx, "200000000")

    def test_several_archives(self):
        other = os.path.join(self.tmp, "rec-2.tar.zst")
        af.write_archive(other, [af.watch_record("app.other", 5000, seq=1)])
        out = json.loads(run(self.rec.path, other, "summary", "-f", "json", check_rc=0).stdout)
        self.assertEqual(len(out["rows"]), 4)
        code = 'local n=0 for r in peeka.records{archive=2} do n=n+1 assert(r:archive().index==2) end print(n, #peeka.archives)'
        self.assertEqual(run(self.rec.path, other, "-e", code, check_rc=0).stdout.strip(), "1\t2")

    def test_partial_archive_is_analysed_with_a_warning(self):
        w = af.ArchiveWriter(os.path.join(self.tmp, "killed.tar.zst"), chunk_bytes=2000)
        w.add_records(self.rec.watch[:40])
        partial = w.abort()
        p = run(partial, "summary", "-f", "json", check_rc=0)
        self.assertIn("incomplete", p.stderr)
        self.assertIn("no summary.json", p.stderr)
        rows = json.loads(p.stdout)["rows"]
        self.assertEqual(sum(r["calls"] for r in rows), 40)
        info = json.loads(run(partial, "info", "-f", "json", check_rc=0).stdout)[0]
        self.assertFalse(info["complete"])


def measure(fn, n):
    out = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        fn()
        out.append(time.perf_counter_ns() - t0)
    return out


def work(k=2000):
    s = 0
    for i in range(k):
        s += i * i
    return s


class Compare(unittest.TestCase):
    """compare over real timings of real code measured here."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="peeka-analyze-cmp-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def write(self, name, costs, func="app.work"):
        path = os.path.join(self.tmp, name)
        af.write_archive(path, [af.watch_record(func, c, seq=i + 1) for i, c in enumerate(costs)])
        return path

    def test_one_run_per_side_flags_only_beyond_2x(self):
        """One recording per side: run-to-run noise cannot be estimated, so
        1.5x the work passes (with a warning saying so) and 3x fails."""
        base = measure(work, 300)
        b = self.write("base.tar.zst", base)
        h15 = self.write("head15.tar.zst", [c * 3 // 2 for c in base])
        p = run(b, h15, "compare", check_rc=0)
        self.assertIn("run-to-run noise cannot be estimated", p.stdout)
        self.assertIn("only changes beyond 2x are flagged", p.stderr)
        row = json.loads(run(b, h15, "compare", "-f", "json", check_rc=0).stdout)["rows"][0]
        self.assertEqual((row["rule"], row["verdict"]), ("one run", "unchanged"))
        self.assertAlmostEqual(row["change"], 0.5, delta=0.01)
        h = self.write("head.tar.zst", [c * 3 for c in base])        # three times as slow
        p = run(b, h, "compare", "--format", "markdown", check_rc=1)
        self.assertIn("| 🔴 ↑ | app.work |", p.stdout)
        self.assertIn("regression: app.work", p.stderr)
        doc = json.loads(run(b, h, "compare", "--format", "json", check_rc=1).stdout)
        row = doc["rows"][0]
        self.assertIsInstance(row["change"], float)    # numbers, not "+99.8%"
        self.assertIsInstance(row["p-value"], float)
        self.assertEqual((row["verdict"], row["rule"]), ("REGRESSED", "one run"))
        self.assertGreater(row["change"], 1.0)
        self.assertLess(row["p-value"], 0.05)
        self.assertNotIn("ci low", row)                # no interval from one run per side
        self.assertEqual(doc["rule"]["mode"], "one run")
        self.assertEqual(doc["counts"], {"regressed": 1, "improved": 0, "unchanged": 0, "not_judged": 0,
                                         "functions": 1})

    def test_same_code_passes_repeatedly(self):
        for i in range(5):
            # interleaved, so both runs see the same machine noise
            base, head = [], []
            for _ in range(300):
                base += measure(work, 1)
                head += measure(work, 1)
            b = self.write("same-base-%d.tar.zst" % i, base)
            h = self.write("same-head-%d.tar.zst" % i, head)
            p = run(b, h, "compare", check_rc=0)
            self.assertNotIn("REGRESSED", p.stdout)

    def runs(self, prefix, medians_by_func, calls=25):
        """One archive per run; every call of f in run k costs medians_by_func[f][k]."""
        paths = []
        for k in range(len(next(iter(medians_by_func.values())))):
            recs = []
            for _ in range(calls):         # the functions' calls interleaved, as a workload's
                for f, medians in sorted(medians_by_func.items()):
                    recs.append(af.watch_record(f, medians[k], seq=len(recs) + 1))
            path = os.path.join(self.tmp, "%s-%d.tar.zst" % (prefix, k))
            af.write_archive(path, recs)
            paths.append(path)
        return paths

    def test_groups_judge_per_run_medians(self):
        """3 runs per side: Welch's t on the logs of the per-run medians,
        checked against the same arithmetic here (equal spread on both
        sides gives exactly 4 degrees of freedom: t(0.975, 4) from tables)."""
        d = 0.04
        spread = [math.exp(-d), 1, math.exp(d)]
        base = [int(200000 * x) for x in spread]
        head = [int(260000 * x) for x in spread[::-1]]
        flat = [50000, 51000, 49000]
        b = self.runs("wb", {"app.slow": base, "app.flat": flat})
        h = self.runs("wh", {"app.slow": head, "app.flat": flat})
        doc = json.loads(run(*b, *h, "compare", "--arg", "base=3", "-f", "json", check_rc=1).stdout)
        rows = {r["function"]: r for r in doc["rows"]}
        lb, lh = [math.log(x) for x in base], [math.log(x) for x in head]
        mb, mh = sum(lb) / 3, sum(lh) / 3
        var = lambda xs, m: sum((x - m) ** 2 for x in xs) / 2
        se = math.sqrt(var(lb, mb) / 3 + var(lh, mh) / 3)
        t975_4 = 2.7764451051977987
        slow = rows["app.slow"]
        self.assertEqual((slow["rule"], slow["verdict"], slow["base runs"], slow["head runs"]),
                         ("runs", "REGRESSED", 3, 3))
        self.assertAlmostEqual(slow["change"], math.exp(mh - mb) - 1, places=12)
        self.assertAlmostEqual(slow["ci low"], math.exp(mh - mb - t975_4 * se) - 1, places=9)
        self.assertAlmostEqual(slow["ci high"], math.exp(mh - mb + t975_4 * se) - 1, places=9)
        self.assertEqual((slow["base calls"], slow["head calls"], slow["base p50"], slow["head p50"]),
                         (75, 75, base[1], head[1]))
        flat_row = rows["app.flat"]
        self.assertEqual((flat_row["verdict"], flat_row["change"], flat_row["p-value"]), ("unchanged", 0.0, 1.0))
        self.assertEqual(doc["counts"], {"regressed": 1, "improved": 0, "unchanged": 1, "not_judged": 0,
                                         "functions": 2})
        self.assertEqual((doc["rule"]["mode"], doc["rule"]["alpha"], doc["rule"]["threshold"]),
                         ("runs", 0.05, 0.1))
        md = run(*b, *h, "compare", "--arg", "base=3", "-f", "markdown", check_rc=1).stdout
        self.assertIn("**1 regressed, 0 improved, 1 unchanged, 0 not judged**", md)
        self.assertIn("| 🔴 ↑ | app.slow | 3 | 3 | 75 | 75 |", md)
        self.assertIn("> 3 BASE vs 3 HEAD recordings: a function regressed when", md)
        self.assertIn("<details><summary>All 2 functions</summary>", md)
        changed = md.split("<details>")[0]
        self.assertNotIn("app.flat", changed)        # the first table holds changed functions only
        # improvements mirror it: HEAD as BASE
        doc = json.loads(run(*h, *b, "compare", "--arg", "base=3", "-f", "json", check_rc=0).stdout)
        self.assertEqual(doc["counts"]["improved"], 1)

    def test_five_runs_trim_an_odd_run(self):
        """5 runs a side: Yuen's test on 20%-trimmed means, so one odd run a
        side (a slow spell in BASE, a fast one in HEAD) neither hides the
        +20% nor widens its interval; checked against the same arithmetic
        here, with Student's t integrated numerically."""
        base = [100000, 101000, 99000, 100500, 180000]
        head = [120000, 121000, 119000, 120500, 60000]
        b = self.runs("yb", {"app.f": base})
        h = self.runs("yh", {"app.f": head})
        row = json.loads(run(*b, *h, "compare", "--arg", "base=5", "-f", "json", check_rc=1).stdout)["rows"][0]

        def trimmed(xs):
            xs = sorted(math.log(x) for x in xs)
            g, n = 1, len(xs)
            h_ = n - 2 * g
            mean = sum(xs[g:n - g]) / h_
            w = [xs[g]] * g + xs[g:n - g] + [xs[n - g - 1]] * g
            wm = sum(w) / n
            wvar = sum((x - wm) ** 2 for x in w) / (n - 1)
            return mean, wvar * (n - 1) / (h_ * (h_ - 1)), h_
        mh, dh, hh = trimmed(head)
        mb, db, hb = trimmed(base)
        diff, se = mh - mb, math.sqrt(dh + db)
        df = (dh + db) ** 2 / (dh ** 2 / (hh - 1) + db ** 2 / (hb - 1))

        def t_cdf(t, nu, steps=20000):
            pdf = lambda x: math.exp(math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2)) / math.sqrt(nu * math.pi) \
                * (1 + x * x / nu) ** (-(nu + 1) / 2)
            hstep = abs(t) / steps
            area = pdf(0) + pdf(abs(t)) + sum((4 if i % 2 else 2) * pdf(i * hstep) for i in range(1, steps))
            half = area * hstep / 3
            return 0.5 + half if t > 0 else 0.5 - half
        self.assertEqual((row["rule"], row["verdict"], row["base runs"]), ("runs", "REGRESSED", 5))
        self.assertAlmostEqual(row["change"], math.exp(diff) - 1, places=12)
        self.assertAlmostEqual(row["p-value"], 2 * t_cdf(-abs(diff / se), df), places=8)
        self.assertAlmostEqual(t_cdf((math.log(1 + row["ci high"]) - diff) / se, df), 0.975, places=8)
        self.assertAlmostEqual(t_cdf((math.log(1 + row["ci low"]) - diff) / se, df), 0.025, places=8)
        self.assertGreater(row["ci low"], 0.15)

    def test_run_to_run_noise_is_not_a_regression(self):
        """The machine's speed moves whole runs (1.0x .. 1.7x here): HEAD's
        runs happening to be slower is not a regression; a reference
        function of the same runs cancels the speed and shows the true +20%."""
        speed_b, speed_h = [1.0, 1.7, 1.1], [1.6, 1.5, 1.3]
        b = self.runs("nb", {"app.f": [int(100000 * s) for s in speed_b],
                             "app.ref": [int(80000 * s) for s in speed_b]})
        h = self.runs("nh", {"app.f": [int(100000 * s) for s in speed_h],
                             "app.ref": [int(80000 * s) for s in speed_h]})
        doc = json.loads(run(*b, *h, "compare", "--arg", "base=3", "-f", "json", check_rc=0).stdout)
        self.assertEqual([r["verdict"] for r in doc["rows"]], ["unchanged", "unchanged"])
        # a per-call test on the pooled calls would call that significant
        one = json.loads(run(b[0], h[0], "compare", "-f", "json", "--arg", "single_threshold=0.1",
                             check_rc=1).stdout)
        self.assertEqual(one["rows"][0]["verdict"], "REGRESSED")
        h20 = self.runs("rh", {"app.f": [int(120000 * s) for s in speed_h],
                               "app.ref": [int(80000 * s) for s in speed_h]})
        doc = json.loads(run(*b, *h20, "compare", "--arg", "base=3", "--arg", "reference=app.ref", "-f", "json",
                             check_rc=1).stdout)
        self.assertEqual([r["function"] for r in doc["rows"]], ["app.f"])   # the reference is not judged
        row = doc["rows"][0]
        self.assertEqual((row["rule"], row["verdict"]), ("runs/ref", "REGRESSED"))
        self.assertAlmostEqual(row["change"], 0.2, places=4)
        same = json.loads(run(*b, *h, "compare", "--arg", "base=3", "--arg", "reference=app.ref", "-f", "json",
                              check_rc=0).stdout)
        self.assertAlmostEqual(same["rows"][0]["change"], 0.0, places=4)

    def test_groups_and_too_few_calls(self):
        b1 = self.write("g-b1.tar.zst", [1000000] * 5)
        b2 = self.write("g-b2.tar.zst", [1000000] * 5)
        h1 = self.write("g-h1.tar.zst", [3000000] * 5)
        p = run(b1, b2, h1, "compare", "--arg", "base=2", "-f", "json", check_rc=0)
        row = json.loads(p.stdout)["rows"][0]
        self.assertEqual((row["base calls"], row["head calls"], row["verdict"]), (10, 5, "too few calls"))
        p = run(b1, b2, h1, "compare", check_rc=2)
        self.assertIn("--arg base=N", p.stderr)


if __name__ == "__main__":
    unittest.main()
