"""The viewer scripts (flamegraph, speedscope, chrometrace, timeline) over
a real recording of viz_calls.py: frames, weights and events checked
against the records the archive holds, and each output format checked
against its own rules (SVG as XML, speedscope's file format, the Trace
Event Format)."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest
import xml.etree.ElementTree as ET

import archive_fixture as af
from peeka_testlib import ANALYZE, launch, read_archive, tool_env

PER_INTERPRETER = True
HANDLES, TICKS = 5, 3
W = "viz.work."
SVG = "{http://www.w3.org/2000/svg}"
USABLE = 1200 - 2 * 10          # flamegraph.lua's default width less its padding, in pixels
PROBES = ["trace viz.work.handle", "stack viz.work.leaf", "watch viz.work.tick"]


def analyze(*args, rc=0):
    p = subprocess.run([ANALYZE] + [str(a) for a in args], capture_output=True, text=True, timeout=120,
                       env=tool_env(dict(os.environ), False))
    if p.returncode != rc:
        raise AssertionError("exit %d (wanted %d): %s" % (p.returncode, rc, p.stderr[-2000:]))
    return p


def record_viz(tmp, probes=PROBES, ticks=TICKS, *more):
    """(archive, session, records) of viz_calls.py under probes, in a
    directory of its own below tmp."""
    tmp = tempfile.mkdtemp(dir=tmp)
    proc, out = launch(tmp, probes, "viz_calls.py", str(HANDLES), str(ticks), *more)
    if proc.returncode != 0 or "viz done" not in proc.stdout:
        raise AssertionError("recording failed (%d): %s" % (proc.returncode, proc.stderr))
    session, records, _, _ = read_archive(out)
    return out, session, records


def svg_frames(text):
    """{(depth, name): [(data-w, title, fill, class) ...]} of a flamegraph SVG (parsed as XML)."""
    root = ET.fromstring(text)
    frames = {}
    for g in root.iter(SVG + "g"):
        if g.get("class") in ("f", "f gone"):
            frames.setdefault((int(g.get("data-d")), g.get("data-n")), []).append(
                (float(g.get("data-w")), g.find(SVG + "title").text, g.find(SVG + "rect").get("fill"),
                 g.get("class")))
    return root, frames


def self_by_path(records):
    """{path: self ns} merged as profile.lua does: each trace node's self
    time under its path of functions, each watch call's cost as one frame."""
    out = {}

    def walk(n, path):
        path += (n["func"],)
        out[path] = out.get(path, 0) + n["self_ns"]
        for c in n["children"]:
            walk(c, path)
    for r in records:
        if r["kind"] == "trace":
            walk(r["call_tree"], ())
        elif r["kind"] == "watch":
            out[(r["func_name"],)] = out.get((r["func_name"],), 0) + r["cost_ns"]
    return out


def total_at(selfs, path):
    """The weight of a frame: the self weights at and below its path."""
    return sum(v for p, v in selfs.items() if p[:len(path)] == path)


def diff_colour(delta, maxd):
    """flamegraph.lua's differential colour of a change of self weight."""
    if maxd <= 0 or delta == 0:
        return "rgb(250,250,250)"
    c = 250 - int(190 * min(1, abs(delta) / maxd))
    return "rgb(250,%d,%d)" % (c, c) if delta > 0 else "rgb(%d,%d,250)" % (c, c)


class Viewers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="peeka-viewers-")
        cls.archive, cls.session, cls.records = record_viz(cls.tmp)
        cls.traces = [r for r in cls.records if r["kind"] == "trace"]
        cls.stacks = [r for r in cls.records if r["kind"] == "stack"]
        cls.ticks = [r for r in cls.records if r["kind"] == "watch"]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_recording(self):
        self.assertEqual((len(self.traces), len(self.stacks), len(self.ticks)), (HANDLES, 3 * HANDLES, TICKS))

    def test_flamegraph_of_stacks_weighs_calls(self):
        text = analyze(self.archive, "flamegraph", "--arg", "weight=calls").stdout
        _, frames = svg_frames(text)
        n = 3 * HANDLES
        want = {(0, "all"): n, (1, "<module> (viz_calls.py)"): n, (2, "handle (work.py)"): n,
                (3, "parse (work.py)"): HANDLES, (3, "render (work.py)"): 2 * HANDLES}
        for key, calls in want.items():
            (w, title, _, _), = frames[key]
            self.assertAlmostEqual(w, calls / n, places=9, msg=key)
            self.assertIn("%d calls, %.2f%% of all" % (calls, 100 * calls / n), title)
        leaves = sorted(w * n for w, _, _, _ in frames[(4, W + "leaf")])
        self.assertEqual([round(x) for x in leaves], [HANDLES, 2 * HANDLES])
        self.assertEqual(len(frames), len(want) + 1)
        self.assertIn("width = calls", text)

    def test_flamegraph_of_time(self):
        """weight=time: trace trees by self time, watch calls by cost;
        each frame's share is its total over everything recorded."""
        _, frames = svg_frames(analyze(self.archive, "flamegraph").stdout)
        handle = sum(t["call_tree"]["cost_ns"] for t in self.traces)
        tick = sum(r["cost_ns"] for r in self.ticks)
        total = handle + tick
        self.assertAlmostEqual(frames[(1, W + "handle")][0][0], handle / total, places=6)
        self.assertAlmostEqual(frames[(1, W + "tick")][0][0], tick / total, places=6)
        render = sum(c["cost_ns"] for t in self.traces for c in t["call_tree"]["children"]
                     if c["func"] == W + "render")
        self.assertAlmostEqual(frames[(2, W + "render")][0][0], render / total, places=6)
        self.assertIn((3, "time.sleep"), frames)
        self.assertEqual({name for _, name in frames},
                         {"all", W + "handle", W + "parse", W + "render", W + "leaf", W + "tick", "time.sleep"})

    def test_flamegraph_diff_colours_the_change(self):
        base = os.path.join(self.tmp, "fg-base.tar.zst")
        head = os.path.join(self.tmp, "fg-head.tar.zst")
        tree = lambda b_ns: af.node("app.a", 20000 + b_ns + 30000, [af.node("app.b", b_ns), af.node("app.c", 30000)])
        af.write_archive(base, [af.trace_record(tree(80000), seq=1)])
        af.write_archive(head, [af.trace_record(tree(160000), seq=1)])
        _, frames = svg_frames(analyze(base, head, "flamegraph", "--arg", "diff=1").stdout)
        (_, title_b, fill_b, _), = frames[(2, "app.b")]
        self.assertEqual(fill_b, "rgb(250,60,60)")            # the largest growth: deepest red
        self.assertIn("BASE 80.00us -> HEAD 160.0us (+100.0%)", title_b)
        self.assertEqual(frames[(2, "app.c")][0][2], "rgb(250,250,250)")     # unchanged: white
        self.assertEqual(frames[(1, "app.a")][0][2], "rgb(250,250,250)")     # same self time
        _, frames = svg_frames(analyze(head, base, "flamegraph", "--arg", "diff=1").stdout)
        self.assertEqual(frames[(2, "app.b")][0][2], "rgb(60,60,250)")      # shrank: blue
        p = analyze(base, "flamegraph", "--arg", "diff=1", rc=2)
        self.assertEqual(p.stderr, "peeka-analyze: flamegraph: --arg diff=1 needs BASE and HEAD archives (1 given)\n")

    def test_flamegraph_diff_draws_frames_gone_in_head(self):
        """HEAD's handle skips parse and its worker makes no tick: those
        frames, only in BASE, are drawn at BASE's weight (class gone, blue
        by their self weight's change), and every frame is as wide as its
        HEAD weight plus the BASE-only frames under it."""
        head, _, head_records = record_viz(self.tmp, PROBES, 0, "fast")
        text = analyze(self.archive, head, "flamegraph", "--arg", "diff=1").stdout
        self.assertIn("dashed only in BASE", text)
        _, frames = svg_frames(text)
        base_s, head_s = self_by_path(self.records), self_by_path(head_records)
        head_paths = {p[:i] for p in head_s for i in range(1, len(p) + 1)}
        gone = {p: v for p, v in base_s.items() if p not in head_paths}
        self.assertEqual({p[-1] for p in gone}, {W + "parse", W + "leaf", W + "tick"})
        drawn = dict(head_s)
        for p, v in gone.items():
            drawn[p] = drawn.get(p, 0) + v
        everything = sum(drawn.values())
        maxd = max(abs(head_s.get(p, 0) - base_s.get(p, 0)) for p in set(head_s) | set(base_s))
        want = {}
        for p in {p[:i] for p in drawn for i in range(1, len(p) + 1)}:
            cls = "f" if p in head_paths else "f gone"
            fill = diff_colour(head_s.get(p, 0) - base_s.get(p, 0), maxd)
            w = total_at(drawn, p) / everything
            if w * USABLE >= 0.1:                        # narrower frames are not drawn
                want.setdefault((len(p), p[-1]), []).append((round(w, 9), fill, cls))
        want[(0, "all")] = [(1.0, "rgb(250,250,250)", "f")]
        got = {k: sorted((round(w, 9), fill, cls) for w, _, fill, cls in v) for k, v in frames.items()}
        self.assertEqual(got, {k: sorted(v) for k, v in want.items()})
        (_, title, fill, _), = frames[(1, W + "tick")]
        self.assertRegex(fill, r"^rgb\((\d+),\1,250\)$")       # blue: faster
        self.assertNotEqual(fill, "rgb(250,250,250)")
        self.assertIn("only in BASE: ", title)
        self.assertIn("removed in HEAD", title)

    def test_watch_calls_inside_traces_count_once(self):
        """trace and watch on handle, and a watch on render (inside every
        handle trace): the flame graph, speedscope and collapsed stacks
        weigh each call once, from the trace trees; the worker's tick
        calls (no trace on that thread) still count."""
        probes = ["trace viz.work.handle", "watch viz.work.handle", "watch viz.work.render", "watch viz.work.tick"]
        archive, _, records = record_viz(self.tmp, probes)
        traces = [r for r in records if r["kind"] == "trace"]
        watched = [r["func_name"] for r in records if r["kind"] == "watch"]
        ticks = [r for r in records if r["kind"] == "watch" and r["func_name"] == W + "tick"]
        self.assertEqual((len(traces), watched.count(W + "handle"), watched.count(W + "render"), len(ticks)),
                         (HANDLES, HANDLES, HANDLES, TICKS))
        selfs = self_by_path(traces + ticks)
        everything = sum(selfs.values())
        _, frames = svg_frames(analyze(archive, "flamegraph").stdout)
        want = {(0, "all"): [1.0]}
        for p in selfs:
            w = total_at(selfs, p) / everything
            if w * USABLE >= 0.1:
                want.setdefault((len(p), p[-1]), []).append(round(w, 9))
        self.assertEqual({k: sorted(round(f[0], 9) for f in v) for k, v in frames.items()},
                         {k: sorted(v) for k, v in want.items()})
        folded = analyze(archive, "collapsed", "--arg", "unit=ns").stdout.splitlines()
        self.assertEqual(dict(line.rsplit(" ", 1) for line in folded),
                         {";".join(p): str(v) for p, v in selfs.items() if v > 0})
        doc = json.loads(analyze(archive, "speedscope").stdout)
        names = [f["name"] for f in doc["shared"]["frames"]]
        opens = {}
        for p in doc["profiles"]:
            for e in p["events"]:
                if e["type"] == "O":
                    opens[names[e["frame"]]] = opens.get(names[e["frame"]], 0) + 1
        self.assertEqual(opens, {W + "handle": HANDLES, W + "parse": HANDLES, W + "render": HANDLES,
                                 W + "leaf": 2 * HANDLES, "time.sleep": HANDLES, W + "tick": TICKS})

    def test_watch_calls_outside_traces_count(self):
        """A trace on parse and a watch on leaf, on one thread: of each
        handle's three leaf calls the first (inside parse) is in parse's
        tree and left out, the two render makes count as watch calls."""
        archive, _, records = record_viz(self.tmp, ["trace viz.work.parse", "watch viz.work.leaf"])
        traces = [r for r in records if r["kind"] == "trace"]
        leaves = sorted((r for r in records if r["kind"] == "watch"), key=lambda r: r["ts_ns"])
        self.assertEqual((len(traces), len(leaves)), (HANDLES, 3 * HANDLES))
        outside = [r for i, r in enumerate(leaves) if i % 3]      # parse calls leaf first, then render twice
        selfs = self_by_path(traces + outside)
        folded = analyze(archive, "collapsed", "--arg", "unit=ns").stdout.splitlines()
        self.assertEqual(dict(line.rsplit(" ", 1) for line in folded),
                         {";".join(p): str(v) for p, v in selfs.items() if v > 0})
        self.assertEqual(selfs[(W + "leaf",)], sum(r["cost_ns"] for r in outside))
        _, frames = svg_frames(analyze(archive, "flamegraph").stdout)
        everything = sum(selfs.values())
        (w, _, _, _), = frames[(1, W + "leaf")]
        self.assertAlmostEqual(w, selfs[(W + "leaf",)] / everything, places=9)
        doc = json.loads(analyze(archive, "speedscope").stdout)
        names = [f["name"] for f in doc["shared"]["frames"]]
        opens = [names[e["frame"]] for p in doc["profiles"] for e in p["events"] if e["type"] == "O"]
        self.assertEqual((opens.count(W + "parse"), opens.count(W + "leaf")), (HANDLES, 3 * HANDLES))

    def test_speedscope_file_format(self):
        doc = json.loads(analyze(self.archive, "speedscope").stdout)
        self.assertEqual(doc["$schema"], "https://www.speedscope.app/file-format-schema.json")
        frames = doc["shared"]["frames"]
        self.assertTrue(all(isinstance(f["name"], str) for f in frames))
        self.assertTrue(all(isinstance(f.get("file", ""), str) and isinstance(f.get("line", 0), int)
                            for f in frames))
        names = [f["name"] for f in frames]
        self.assertEqual(len(names), len(set(zip(names, [f.get("file") for f in frames]))))
        opens = {}
        kinds = []
        for p in doc["profiles"]:
            kinds.append((p["type"], p["name"].split(" (")[0]))
            if p["type"] == "evented":
                self.assertEqual(p["unit"], "nanoseconds")
                stack, last = [], p["startValue"]
                for e in p["events"]:
                    self.assertIn(e["type"], ("O", "C"))
                    self.assertGreaterEqual(e["at"], last)      # in time order
                    last = e["at"]
                    if e["type"] == "O":
                        stack.append(e["frame"])
                        opens[names[e["frame"]]] = opens.get(names[e["frame"]], 0) + 1
                    else:
                        self.assertEqual(stack.pop(), e["frame"])   # closes the innermost open frame
                self.assertEqual(stack, [])
                self.assertEqual(last, p["endValue"])
            else:
                self.assertEqual(p["type"], "sampled")
                self.assertEqual(len(p["samples"]), len(p["weights"]))
                self.assertEqual(len(p["samples"]), 3 * HANDLES)
                self.assertEqual(sum(p["weights"]), p["endValue"])
                stacks = sorted(tuple(names[i] for i in s) for s in p["samples"])
                self.assertEqual(stacks[0], ("<module> (viz_calls.py)", "handle (work.py)", "parse (work.py)",
                                             W + "leaf"))
                self.assertEqual(stacks.count(stacks[-1]), 2 * HANDLES)
        self.assertEqual(sorted(kinds), [("evented", "MainThread"), ("evented", "worker-1"), ("sampled", "MainThread")])
        # one open per trace node (a node is one function under one parent, merged) and per watch call
        self.assertEqual(opens, {W + "handle": HANDLES, W + "parse": HANDLES, W + "render": HANDLES,
                                 W + "leaf": 2 * HANDLES, "time.sleep": HANDLES, W + "tick": TICKS})

    def test_chrometrace_follows_trace_event_format(self):
        doc = json.loads(analyze(self.archive, "chrometrace").stdout)
        self.assertIn(doc.get("displayTimeUnit", "ms"), ("ms", "ns"))
        events = doc["traceEvents"]
        named_threads, named_procs, slices = set(), set(), {}
        for e in events:
            self.assertIsInstance(e["name"], str)
            self.assertIsInstance(e["pid"], int)
            self.assertIn(e["ph"], ("X", "B", "E", "M"))
            if e["ph"] == "M":
                self.assertIn(e["name"], ("process_name", "thread_name"))
                self.assertIsInstance(e["args"]["name"], str)
                (named_threads if e["name"] == "thread_name" else named_procs).add((e["pid"], e.get("tid")))
                continue
            self.assertIsInstance(e["tid"], int)
            self.assertIsInstance(e["ts"], (int, float))
            self.assertGreaterEqual(e["ts"], 0)
            if e["ph"] == "X":
                self.assertGreaterEqual(e["dur"], 0)
            slices.setdefault((e["pid"], e["tid"]), []).append(e)
        pid = self.session["target"]["pid"]
        self.assertEqual({p for p, _ in named_procs}, {pid})
        for key, evs in slices.items():
            self.assertIn(key, named_threads)                 # every thread has its name
            # X slices on one thread nest: none starts inside another and ends after it
            evs.sort(key=lambda e: (e["ts"], -e["dur"]))
            open_ends = []
            for e in evs:
                while open_ends and open_ends[-1] <= e["ts"] + 1e-3:
                    open_ends.pop()
                if open_ends:
                    self.assertLessEqual(e["ts"] + e["dur"], open_ends[-1] + 1e-3, e)
                open_ends.append(e["ts"] + e["dur"])
        names = [e["name"] for e in events if e["ph"] == "X"]
        self.assertEqual((names.count(W + "handle"), names.count(W + "leaf"), names.count(W + "tick")),
                         (HANDLES, 2 * HANDLES, TICKS))
        # timestamps in microseconds since the recording's start
        tick, = [e for e in events if e["ph"] == "X" and e["name"] == W + "tick"][:1]
        r = self.ticks[0]
        self.assertAlmostEqual(tick["ts"], (r["ts_ns"] - self.session["start_ns"]) / 1000, places=3)
        self.assertAlmostEqual(tick["dur"], r["cost_ns"] / 1000, places=3)
        root = [e for e in events if e["ph"] == "X" and e["name"] == W + "handle"][0]
        self.assertAlmostEqual(root["dur"], self.traces[0]["call_tree"]["cost_ns"] / 1000, places=3)

    def test_timeline_chart_and_list(self):
        out = analyze(self.archive, "timeline", "--arg", "width=60").stdout.splitlines()
        self.assertTrue(out[0].startswith("timeline ") and "60 columns" in out[0])
        rows = {line.split()[0]: line.split()[1] for line in out[2:4]}
        self.assertEqual(set(rows), {"MainThread", "worker-1"})
        self.assertEqual(set(rows["MainThread"]) | set(rows["worker-1"]), {"A", "B", "."})
        # the worker runs after the main thread: its first busy column is main's last or
        # later (the same one when the worker starts within that column's time)
        self.assertLessEqual(rows["MainThread"].rindex("A"), rows["worker-1"].index("B"))
        self.assertTrue(rows["MainThread"].startswith("A") and rows["worker-1"].endswith("B"))
        handle = sum(t["call_tree"]["cost_ns"] for t in self.traces)
        legend = [line for line in out if line.startswith(("A ", "B "))]
        self.assertEqual(legend[0].split()[:3], ["A", W + "handle", "%d" % HANDLES])
        self.assertEqual(legend[1].split()[:3], ["B", W + "tick", "%d" % TICKS])
        self.assertIn(analyze(self.archive, "-e", "print(peeka.duration(%d))" % handle).stdout.strip(), legend[0])
        lst = analyze(self.archive, "timeline", "--arg", "mode=list", "--arg", "thread=worker-*").stdout
        lines = lst.splitlines()
        self.assertTrue(lines[0].startswith("== worker-1 (") and lines[0].endswith(": %d calls" % TICKS))
        self.assertEqual([line.split()[-1] for line in lines[1:]], [W + "tick"] * TICKS)
        # a clock-time window: from the second tick's start on
        second = self.ticks[1]["ts_ns"]
        ns = second % 10**9
        stamp = "%s.%06d" % (subprocess.run(["date", "-u", "-d", "@%d" % (second // 10**9), "+%H:%M:%S"],
                                            capture_output=True, text=True, check=True).stdout.strip(), ns // 1000 + 1)
        lst = analyze(self.archive, "timeline", "--arg", "mode=list", "--arg", "from=" + stamp).stdout
        self.assertEqual(lst.count(W + "tick"), TICKS - 1, lst)
        self.assertNotIn(W + "handle", lst)
        for bad in ("soon", "12:61"):
            p = analyze(self.archive, "timeline", "--arg", "from=" + bad, rc=2)
            self.assertEqual(p.stderr, "peeka-analyze: timeline: --arg from=%s: expected a clock time "
                             "(12:03, 12:03:05.5) or a duration (10s)\n" % bad)

    def test_listed(self):
        names = [line.split()[0] for line in analyze("-l").stdout.splitlines()]
        for s in ("flamegraph", "speedscope", "timeline", "chrometrace", "compare"):
            self.assertIn(s, names)


if __name__ == "__main__":
    unittest.main()
