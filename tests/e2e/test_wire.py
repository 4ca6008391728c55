"""The compact wire form (docs/protocol.md "Segments") end to end: a
recording made with it holds, line for line and byte for byte, what the
literal form gives for the same calls (only clocks, costs, thread ids and
pids differ between two runs, and are masked)."""
import json
import os
import re
import tempfile
import unittest

from peeka_testlib import PY, TARGETS, read_archive, read_record_lines, rec

PER_INTERPRETER = True

# What differs between two runs of the same calls.
VOLATILE = re.compile(r'"(ts_ns|timestamp|cost|cost_ns|self_ns|total_duration_ms|thread_id|pid)"'
                      r':-?[0-9.]+')
PROBES = ("watch", "wire_funcs.*", "-b", "-f", "watch", "wire_funcs.Thing.method", "-b", "-f",
          "trace", "wire_funcs.outer")


class CompactWire(unittest.TestCase):
    def record(self, tmp, name, env, *args, extra=()):
        out = os.path.join(tmp, name + ".tar.zst")
        p = rec("-q", "-o", out, *extra, *PROBES, "--", PY, os.path.join(TARGETS, "wire_calls.py"),
                *args, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("calls done", p.stdout)
        _, records, summary, _ = read_archive(out)
        self.assertEqual(summary["records"], len(records))
        self.assertEqual(summary["drops"], 0)
        return read_record_lines(out), summary

    def masked(self, lines):
        return [VOLATILE.sub(lambda m: '"%s":0' % m.group(1), l) for l in lines]

    def test_same_lines_as_literal(self):
        with tempfile.TemporaryDirectory() as tmp:
            compact, s1 = self.record(tmp, "compact", None)
            literal, s2 = self.record(tmp, "literal", {"PEEKA_WIRE": "literal"})
        # 650 rounds of add, kw, star and fails, at entry and end (-b -f), and
        # 3 calls of outer with its 3 adds; the method 650 times; 3 trees
        per_probe = [650 * 4 * 2 + 3 * 4 * 2, 650 * 2, 3]
        self.assertEqual([p["observations"] for p in s1["probes"]], per_probe)
        self.assertEqual(len(compact), sum(per_probe))
        self.assertEqual(self.masked(compact), self.masked(literal))
        names = {json.loads(l)["thread_name"] for l in compact}
        self.assertEqual(names, {"MainThread", "wire-helper", "renamed-main"})
        self.assertEqual([p["observations"] for p in s1["probes"]],
                         [p["observations"] for p in s2["probes"]])

    def test_forked_child_same_lines_as_literal(self):
        """A followed child has a connection and segments of its own; its
        records name its pid."""
        got = {}
        with tempfile.TemporaryDirectory() as tmp:
            for name, env in (("compact", None), ("literal", {"PEEKA_WIRE": "literal"})):
                lines, summary = self.record(tmp, name, env, "fork", extra=("--follow-forks",))
                parent = json.loads(lines[0])["pid"]
                child = [l for l in lines if json.loads(l)["pid"] != parent]
                main = [l for l in lines if json.loads(l)["pid"] == parent]
                self.assertEqual(len(child), 20 * 5 * 2 + 4 * 2 + 1)
                got[name] = (self.masked(main), self.masked(child))
        self.assertEqual(got["compact"], got["literal"])


if __name__ == "__main__":
    unittest.main()
