"""The real peeka-rec against a fake agent (tests/targets/fake_agent.py)
that breaks the protocol: bad reply ids, bad records, bad frames, bad
counts, truncated streams.  peeka-rec must say what was wrong, exit with the
documented code (7: the agent broke the protocol), keep a complete archive
of what was recorded before, and never crash."""
import json
import os
import subprocess
import tempfile
import unittest

from peeka_testlib import (ANALYZE, PY, TARGETS, read_archive, read_record_lines, rec, target_env,
                           tool_env)

PER_INTERPRETER = False
EX_PROBE, EX_AGENT_LOST, EX_PROTOCOL = 3, 6, 7


class FakeAgent(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def run_fake(self, scenario, duration="50", env=None):
        """duration: only the good fake and detach-bad-counts end by it; every
        other scenario ends the recording itself, however long a loaded
        machine takes to get there (with -d 3 a late violation was a clean end)."""
        out = os.path.join(self.tmp.name, "fake.tar.zst")
        # python -S behind a shell: peeka-rec cannot see the flag, takes the
        # sitecustomize route, and the fake reads the socket from it
        p = rec("-o", out, "-d", duration, "watch", "fake.func", "--", "/bin/sh", "-c",
                'exec "$0" -S "$@"', PY, os.path.join(TARGETS, "fake_agent.py"), scenario, timeout=60,
                env=env)
        self.assertGreaterEqual(p.returncode, 0, "peeka-rec died of a signal: " + p.stderr)
        self.assertNotIn("runtime error", p.stderr)     # UBSan
        self.assertNotIn("AddressSanitizer", p.stderr)
        return p, out

    def assert_complete(self, out, records):
        self.assertTrue(os.path.exists(out), "no complete archive")
        self.assertFalse(os.path.exists(out + ".partial"))
        session, recs, summary, _ = read_archive(out)
        self.assertIsNotNone(session)
        self.assertIsNotNone(summary)
        self.assertEqual(len(recs), records)
        self.assertEqual(summary["records"], records)
        self.assertEqual(sum(pr["observations"] for pr in summary["probes"]), records)
        a = subprocess.run([ANALYZE, out, "info"], capture_output=True, text=True,
                           env=tool_env(target_env(), False))
        self.assertEqual(a.returncode, 0, a.stderr)
        self.assertIn("complete   yes", a.stdout)
        a = subprocess.run([ANALYZE, out, "summary"], capture_output=True, text=True,
                           env=tool_env(target_env(), False))
        self.assertEqual(a.returncode, 0, a.stderr)
        return summary

    def assert_violation(self, scenario, words, records=3, duration="50", env=None):
        p, out = self.run_fake(scenario, duration, env)
        self.assertEqual(p.returncode, EX_PROTOCOL, p.stderr)
        self.assertIn("the agent broke the protocol", p.stderr)
        self.assertIn(words, p.stderr)
        summary = self.assert_complete(out, records)
        self.assertEqual(summary["reason"], "protocol-error")
        self.assertIn(words, summary["error"])
        return p, summary

    def test_good_fake_agent(self):
        """The fake itself is a valid agent: a clean recording."""
        p, out = self.run_fake("good", duration="3")
        self.assertEqual(p.returncode, 0, p.stderr)
        summary = self.assert_complete(out, 3)
        self.assertEqual(summary["reason"], "duration")

    def test_reply_ids(self):
        for rid in ("0", "-1", "1000000000", '"1"', "1.5", "null", "1e300"):
            with self.subTest(id=rid):
                self.assert_violation("reply-id:" + rid, "REPLY")
        self.assert_violation("reply-no-id", "no id")
        self.assert_violation("reply-no-ok", '"ok"')

    def test_install_replies(self):
        for sc, words in (("install-no-id", "no id"), ("install-id-string", "REPLY"),
                          ("install-bad-probe-id", "probe that does not exist"),
                          ("install-not-json", "not a JSON object"),
                          ("records-before-install", "before any probe was installed")):
            with self.subTest(scenario=sc):
                self.assert_violation(sc, words, records=0)

    def test_install_refused_without_reason(self):
        p, out = self.run_fake("install-fail-no-error")
        self.assertEqual(p.returncode, EX_PROBE, p.stderr)
        self.assertIn("refused the probes without saying why", p.stderr)
        self.assertFalse(os.path.exists(out) or os.path.exists(out + ".partial"))

    def test_bad_records(self):
        for sc, words in (("records-probe-0", "probe_id"), ("records-probe-2", "probe_id"),
                          ("records-probe-huge", "probe_id"),
                          ("records-not-jsonl", "not a JSON object line"),
                          ("records-no-newline", "newline"), ("records-nul", "NUL")):
            with self.subTest(scenario=sc):
                self.assert_violation(sc, words)

    def test_bad_frames(self):
        for sc, words in (("oversized", "size limit"), ("type-99", "unknown frame type"),
                          ("type-0", "unknown frame type"), ("reserved", "reserved"),
                          ("type-welcome", "WELCOME"), ("type-hello", "HELLO"),
                          ("truncated", "middle of a frame"),
                          ("truncated-header", "middle of a frame")):
            with self.subTest(scenario=sc):
                self.assert_violation(sc, words)

    def test_bad_events_and_counts(self):
        self.assert_violation("event-not-json", "EVENT")
        self.assert_violation("event-bad-counts", "probe that does not exist")
        # the duration's end brings the detach this fake answers wrongly
        self.assert_violation("detach-bad-counts", "probe that does not exist", duration="3")

    def test_compact_records(self):
        """SEGMENTS and references: the archive holds exactly the lines the
        fake would have sent literally, in order, literal ones in between."""
        p, out = self.run_fake("seg-good", duration="3")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn('"segments":true', p.stdout)   # WELCOME asked for them
        compact = [json.loads(l.split(" ", 1)[1]) for l in p.stdout.splitlines()
                   if l.startswith("compact ")]
        self.assertEqual([len(c) for c in compact], [4, 1])
        summary = self.assert_complete(out, 3 + 4 + 1 + 1)
        lines = read_record_lines(out)
        self.assertEqual(len(lines), 9)
        self.assertEqual(lines[3:7], [l.rstrip("\n") for l in compact[0]])
        self.assertEqual(lines[8], compact[1][0].rstrip("\n"))
        self.assertEqual([json.loads(l)["seq"] for l in lines], list(range(1, 10)))
        self.assertEqual(summary["reason"], "duration")

    def test_bad_segments(self):
        for sc, words, records in (
                ("seg-undefined", "segment that is not defined", 4),
                ("seg-newline", "NUL, newline or reference byte", 3),
                ("seg-short", "is 3 bytes", 3),
                ("seg-out-of-order", "defines segment 1 where 0 was next", 3),
                ("seg-again", "defines segment 0 where 1 was next", 3),
                ("seg-cut", "ends inside segment 0", 3),
                ("seg-cut-ref", "segment that is not defined", 3),
                ("seg-expands-too-far", "expands to more than 4194304 bytes", 3)):
            with self.subTest(scenario=sc):
                self.assert_violation(sc, words, records=records)

    def test_segments_not_asked_for(self):
        """PEEKA_WIRE=literal: WELCOME does not ask, and SEGMENTS is refused."""
        p, summary = self.assert_violation("seg-short", "SEGMENTS, which peeka-rec did not ask for",
                                           env={"PEEKA_WIRE": "literal"})
        self.assertNotIn('"segments"', p.stdout)

    def test_event_with_unknown_reason(self):
        p, out = self.run_fake("event-unknown-reason")
        self.assertEqual(p.returncode, EX_AGENT_LOST, p.stderr)
        self.assertIn("reason peeka-rec does not know: cosmic-rays", p.stderr)
        summary = self.assert_complete(out, 3)
        self.assertEqual(summary["reason"], "agent-lost")


if __name__ == "__main__":
    unittest.main()
