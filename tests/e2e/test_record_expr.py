"""watch --record EXPR and the per-probe formatting limits (--max-items,
--max-attrs, --max-string), end to end; and that what --record reads
respects the redaction rules, in the agent and in the redact script."""
import os
import sys
import tempfile
import unittest

from peeka_testlib import PY, TARGETS, read_archive, rec
from test_redact import analyze, raw_members

sys.path.insert(0, TARGETS)
from rd import secrets  # noqa: E402

PER_INTERPRETER = True
ROUNDS = 3
LOGIN, REFUSE, PROFILE = "rd.auth.login", "rd.auth.refuse", "rd.auth.profile"
VALUE_FIELDS = ("param_names", "params", "kwargs", "target", "returnObj")


class Record(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.n = 0

    def tearDown(self):
        self.tmp.cleanup()

    def record(self, probes, extra=(), want_rc=0):
        self.n += 1
        out = os.path.join(self.tmp.name, "r%d.tar.zst" % self.n)
        args = ["-q", "-o", out] + list(extra)
        for p in probes:
            args += ["--probe", p]
        p = rec(*args, "--", PY, os.path.join(TARGETS, "rd_record.py"), str(ROUNDS))
        self.assertEqual(p.returncode, want_rc, p.stderr)
        return out, p

    def records(self, out, func):
        session, recs, summary, _ = read_archive(out)
        self.assertEqual(summary["records"], len(recs))
        return session, [r for r in recs if r["func_name"] == func]

    def test_record_holds_the_values_instead_of_params(self):
        out, _ = self.record(["watch %s --record '{user, len(kwargs), returnObj[\"ok\"], creds, 1/0, "
                              "{\"u\": user}}'" % LOGIN])
        session, logins = self.records(out, LOGIN)
        self.assertEqual(len(logins), 2 * ROUNDS)
        self.assertEqual(session["probes"][0]["options"]["record"],
                         ["user", "len(kwargs)", 'returnObj["ok"]', "creds", "1/0", '{"u": user}'])
        err = "<error: ZeroDivisionError: division by zero>"
        a, b = logins[0], logins[1]
        # the first call passes token=...: what reads kwargs is hidden
        self.assertEqual(a["record"], ["alice", "[redacted]", True, {"__class__": "rd.auth.Creds", "__attrs__": {
            "user": "alice", "password": "[redacted]", "api_key": "[redacted]", "pin": secrets.CUSTOM}},
            err, {"u": "alice"}])
        self.assertEqual(b["record"], ["bob", 1, True, {"__class__": "rd.auth.SlotCreds", "__attrs__": {
            "user": "bob", "token": "[redacted]"}}, err, {"u": "bob"}])
        for r in logins:
            for f in VALUE_FIELDS:
                self.assertNotIn(f, r)
            self.assertEqual(r["location"], "AtExit")
            self.assertTrue(r["success"])

    def test_record_hides_what_it_reads(self):
        probes = ["watch %s --record '{password, kwargs.get(\"token\"), creds.api_key, params[1], "
                  "returnObj.values(), str(returnObj), user}'" % LOGIN,
                  "watch %s --record '{throwExp, user, throwExp.split()}'" % REFUSE]
        out, _ = self.record(probes)
        for name, (_, data) in raw_members(out).items():
            for s in secrets.ALL:
                self.assertNotIn(s.encode(), data, "%s leaked into %s" % (s, name))
        _, logins = self.records(out, LOGIN)
        self.assertEqual(len(logins), 2 * ROUNDS)
        self.assertEqual(logins[0]["record"], ["[redacted]"] * 5 + [
            "{'user': 'alice', 'ok': True, 'session': '[redacted]', 'meta': {'cookie': '[redacted]', "
            "'visits': 3}}", "alice"])
        _, refusals = self.records(out, REFUSE)
        self.assertEqual([r["record"] for r in refusals], [["[redacted]", "carol", "[redacted]"]] * ROUNDS)
        # without rules, the same expressions give the values
        raw, _ = self.record(probes, extra=["--no-default-redact"])
        _, logins = self.records(raw, LOGIN)
        self.assertEqual(logins[0]["record"][:4], [secrets.PASSWORD, secrets.TOKEN, secrets.ATTR_KEY,
                                                   secrets.PASSWORD])
        # and the redact script hides them again
        clean = os.path.join(self.tmp.name, "clean.tar.zst")
        p = analyze(raw, "redact", "--arg", "out=" + clean)
        self.assertEqual(p.returncode, 0, p.stderr)
        for name, (_, data) in raw_members(clean).items():
            for s in secrets.ALL:
                self.assertNotIn(s.encode(), data, "%s leaked into %s" % (s, name))
        _, logins = self.records(clean, LOGIN)
        self.assertEqual(len(logins), 2 * ROUNDS)
        self.assertEqual(logins[0]["record"][-1], "alice")

    def test_bad_record_expressions(self):
        for spec, rc, why in (("watch %s --record 'user +'" % LOGIN, 3, "record expression 1 'user +'"),
                              ("watch %s --record '{user, }'" % LOGIN, None, None),
                              ("watch %s --record '{user, , x}'" % LOGIN, 2, "empty expression"),
                              ("watch %s --record ''" % LOGIN, 2, "empty expression"),
                              ("watch %s --record '{%s}'" % (LOGIN, ", ".join(["x"] * 17)), 2, "at most 16"),
                              ("trace %s --record user" % LOGIN, 2, "unknown option '--record'")):
            if rc is None:   # a trailing comma is allowed
                out, _ = self.record([spec])
                self.assertEqual(self.records(out, LOGIN)[1][0]["record"], ["alice"])
                continue
            _, p = self.record([spec], want_rc=rc)
            self.assertIn(why, p.stderr)

    def test_formatting_limits_per_probe(self):
        out, _ = self.record(["watch %s -x 3 --max-items 3 --max-attrs 2 --max-string 5" % PROFILE,
                              "watch %s -x 3" % PROFILE, "stack %s --max-string 2" % PROFILE])
        session, recs = self.records(out, PROFILE)
        small = [r for r in recs if r["probe_id"] == 1]
        full = [r for r in recs if r["probe_id"] == 2]
        stack = [r for r in recs if r["probe_id"] == 3]
        self.assertEqual((len(small), len(full), len(stack)), (ROUNDS, ROUNDS, ROUNDS))
        self.assertEqual(small[0]["returnObj"], {
            "bio": "bbbbb", "tags": [0, 1, 2, "..."],
            "creds": {"__class__": "rd.auth.Creds", "__attrs__": {"user": "erin", "password": "[redacted]",
                                                                 "...": "..."}}, "...": "..."})
        self.assertEqual(small[0]["params"], ["erin"])
        r = full[0]["returnObj"]
        self.assertEqual((len(r["bio"]), len(r["tags"]), r["tags"][-1], len(r["creds"]["__attrs__"]), r["name"]),
                         (50, 21, "...", 4, "erin"))
        self.assertEqual(stack[0]["params"], ["er"])
        opts = [p["options"] for p in session["probes"]]
        self.assertEqual([(o["max_items"], o["max_attrs"], o["max_string"]) for o in opts],
                         [(3, 2, 5), (20, 10, 1000), (20, 10, 2)])
        for args, why in ((["--max-items", "0"], "--max-items needs a count from 1 to 1000"),
                          (["--max-string", "2M"], "--max-string needs a count from 1 to 1048576"),
                          (["--max-attrs", "1001"], "--max-attrs needs a count from 1 to 1000")):
            _, p = self.record(["watch %s %s" % (PROFILE, " ".join(args))], want_rc=2)
            self.assertIn(why, p.stderr)


if __name__ == "__main__":
    unittest.main()
