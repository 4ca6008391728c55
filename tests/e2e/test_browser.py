"""The viewers in a real browser: a peeka recording's speedscope file
loaded into speedscope (from npm) in headless Chromium, and the flame
graph SVG there, checked through the DOM after their scripts ran, the
console, and a screenshot.  Skipped, with the reason, only where chromium
or speedscope cannot be installed (sh mk/deps.sh --install --tests)."""
import html
import os
import re
import shutil
import struct
import tempfile
import unittest
import urllib.parse

import browser
from test_viewers import HANDLES, W, analyze, record_viz

PER_INTERPRETER = False
WHY = browser.unavailable()


def sandwich_rows(dom):
    """{symbol: (total, self)} from speedscope's sandwich table."""
    rows = re.findall(r'<td class="[^"]*">([^<]+)<div.*?</td><td class="[^"]*">([^<]+)<div.*?</td>'
                      r'<td (?:title="[^"]*" )?class="[^"]*"><span[^>]*></span>([^<]+)</td>', dom, re.S)
    return {html.unescape(name): (total, self_) for total, self_, name in rows}


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", head[16:24])


@unittest.skipIf(WHY, WHY)
class Browser(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="peeka-browser-")
        cls.archive, cls.session, cls.records = record_viz(cls.tmp)
        cls.traces = [r for r in cls.records if r["kind"] == "trace"]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def speedscope_url(self, base, view):
        profile = urllib.parse.quote(base + "/profile.json", safe="")
        return "%s/index.html#profileURL=%s&view=%s" % (base, profile, view)

    def test_speedscope_renders_the_recorded_frames(self):
        profile = os.path.join(self.tmp, "profile.json")
        analyze(self.archive, "speedscope", "--arg", "out=" + profile)
        with browser.Server(browser.speedscope(), {"/profile.json": profile}) as base:
            dom = browser.dom(self.speedscope_url(base, "sandwich"))
            shot = browser.screenshot(self.speedscope_url(base, "time-ordered"),
                                      os.path.join(self.tmp, "speedscope.png"))
            console = browser.console(self.speedscope_url(base, "time-ordered"))
        self.assertIn("<title>%s - speedscope</title>" % os.path.basename(self.archive), dom)
        rows = sandwich_rows(dom)
        # the first profile: MainThread's calls over time, from the trace trees
        self.assertEqual(set(rows), {W + "handle", W + "parse", W + "render", W + "leaf", "time.sleep"})
        handle_ms = sum(t["call_tree"]["cost_ns"] for t in self.traces) / 1e6
        self.assertEqual(rows[W + "handle"][0], "%.2fms (100%%)" % handle_ms)
        sleep_ms = sum(c["cost_ns"] for t in self.traces for r in t["call_tree"]["children"]
                       if r["func"] == W + "render" for c in r["children"] if c["func"] == "time.sleep") / 1e6
        self.assertTrue(rows["time.sleep"][1].startswith("%.2fms" % sleep_ms), rows["time.sleep"])
        self.assertIn("MainThread (", dom)                     # the profile's name in the toolbar
        self.assertEqual(png_size(shot), (1200, 800))
        self.assertGreater(os.path.getsize(shot), 10000)       # a drawn page, not a blank one
        self.assertIn('"speedscope v1.25.0"', console)
        self.assertIn("WebGL initialized", console)            # the flame chart was drawn on a canvas
        self.assertNotRegex(console, r"CONSOLE.*(rror|Something went wrong)")

    def test_flamegraph_svg_search_and_zoom(self):
        svg = os.path.join(self.tmp, "flame.svg")
        analyze(self.archive, "flamegraph", "--arg", "weight=calls", "--arg", "out=" + svg)
        dom = browser.dom("file://%s#search=%s" % (svg, urllib.parse.quote("^render ")), budget_ms=2000)
        self.assertEqual(dom.count('data-match="1"'), 1)
        self.assertEqual(len(re.findall(r'<g class="f"', dom)), 7)
        self.assertIn("Matched: 66.67% (1 frames)", dom)     # 10 of the 15 recorded calls
        self.assertIn(">Clear search<", dom)
        dom = browser.dom("file://%s#zoom=%s" % (svg, urllib.parse.quote("^render ")), budget_ms=2000)
        frames = re.findall(r'<g class="f[^"]*" data-n="([^"]+)"[^>]*?(?: style="([^"]*)")?>.*?<rect x="([^"]+)" y="\d+" '
                            r'width="([^"]+)"', dom, re.S)
        by_name = {}
        for name, style, x, width in frames:
            by_name.setdefault(html.unescape(name), []).append(("none" in (style or ""), float(x), float(width)))
        self.assertEqual(by_name["render (work.py)"], [(False, 10.0, 1180.0)])   # zoomed: full width
        self.assertEqual(by_name["parse (work.py)"][0][0], True)                  # outside: hidden
        leaves = sorted(by_name[W + "leaf"])
        self.assertEqual(leaves[0], (False, 10.0, 1180.0))       # the leaf under render fills it
        self.assertTrue(leaves[1][0])                              # the one under parse is hidden
        self.assertEqual(by_name["all"], [(False, 10.0, 1180.0)])
        self.assertIn('id="unzoom" class="btn" x="10" y="20" style="opacity: 1;"', dom)
        shot = browser.screenshot("file://" + svg, os.path.join(self.tmp, "flame.png"), budget_ms=2000,
                                  size="1200,200")
        self.assertEqual(png_size(shot), (1200, 200))


if __name__ == "__main__":
    unittest.main()
