"""Recordings safe to share (README "Sharing a recording"): archive and
.partial modes whatever the umask, --mode, redaction inside the agent for
every probe kind, and peeka-analyze's redact script on an archive recorded
without rules.  "No secret" is checked on the decompressed bytes of every
member, not on decoded JSON."""
import json
import os
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import io
import unittest

from peeka_testlib import (ANALYZE, PY, REC, RUNTIME_DIR, TARGETS, Target, read_archive, rec,
                           target_env, tool_env)

sys.path.insert(0, TARGETS)
from rd import secrets  # noqa: E402  (the values the target passes)

PER_INTERPRETER = True
ROUNDS = 3
# per round: 2 login, 1 Creds.check, 1 refuse (rd/auth.py call_once)
LOGIN, CHECK, REFUSE = "rd.auth.login", "rd.auth.Creds.check", "rd.auth.refuse"
ARGV_SECRET = "argv-pw-88"
WATCHES = ["watch %s -x 4" % LOGIN, "watch %s -x 3" % CHECK, "watch %s" % REFUSE]


def run_rec(args, umask=None, env=None):
    """peeka-rec with the given umask (inherited by nothing else)."""
    args = [str(a) for a in args]
    return subprocess.run([REC] + args, capture_output=True, text=True, timeout=60, cwd=TARGETS,
                          env=tool_env(target_env(env), "--" in args),
                          preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)


def launch_args(out, probes, extra=()):
    args = ["-q", "-o", out] + list(extra)
    for p in probes:
        args += ["--probe", p]
    return args + ["--", PY, os.path.join(TARGETS, "rd_calls.py"), str(ROUNDS),
                   "--password", ARGV_SECRET, "token=" + ARGV_SECRET]


def raw_members(path):
    """{member name: bytes} of every member, decompressed with the zstd tool."""
    raw = subprocess.run(["zstd", "-dcq", path], capture_output=True, check=True).stdout
    out = {}
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r|") as tf:
        for m in tf:
            out[m.name] = (m.mode, tf.extractfile(m).read())
    return out


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def analyze(*args):
    return subprocess.run([ANALYZE] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=120, env=tool_env(dict(os.environ), False))


class Recorded(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.n = 0

    def tearDown(self):
        self.tmp.cleanup()

    def record(self, probes, extra=(), umask=None):
        self.n += 1
        out = os.path.join(self.tmp.name, "r%d.tar.zst" % self.n)
        p = run_rec(launch_args(out, probes, extra), umask=umask)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("calls done", p.stdout)
        return out

    def assert_no_secret(self, path, hidden=secrets.ALL + [ARGV_SECRET]):
        for name, (_, data) in raw_members(path).items():
            for s in hidden:
                self.assertNotIn(s.encode(), data, "%s leaked into %s" % (s, name))

    def assert_counts(self, path, want):
        """want: {func_name: records}; the archive holds exactly those."""
        _, recs, summary, _ = read_archive(path)
        got = {}
        for r in recs:
            got[r["func_name"]] = got.get(r["func_name"], 0) + 1
        self.assertEqual(got, want)
        self.assertEqual(summary["records"], len(recs))
        self.assertEqual(sum(p["observations"] for p in summary["probes"]), len(recs))
        return recs


class ArchiveModes(Recorded):
    def test_archive_is_0600_whatever_the_umask(self):
        for umask in (0o022, 0o077, 0o000):
            out = self.record(WATCHES, umask=umask)
            self.assertEqual(mode_of(out), 0o600, "umask %03o" % umask)
            for name, (mode, _) in raw_members(out).items():
                self.assertEqual(mode, 0o600, name)

    def test_mode_opts_into_more(self):
        for umask in (0o022, 0o077):
            out = self.record(WATCHES, extra=["--mode", "0640"], umask=umask)
            self.assertEqual(mode_of(out), 0o640, "umask %03o" % umask)
        out = self.record(WATCHES, extra=["--mode", "644"], umask=0o077)
        self.assertEqual(mode_of(out), 0o644)

    def test_bad_modes_are_refused_before_anything(self):
        out = os.path.join(self.tmp.name, "bad.tar.zst")
        for mode, why in (("0666", "others may write"), ("0602", "others may write"),
                          ("0700", "not executable"), ("0750", "not executable"),
                          ("0400", "0600 plus"), ("04600", "0600 plus"), ("0690", "octal"),
                          ("rw", "octal"), ("-600", "octal"), ("", "octal")):
            p = run_rec(["--mode", mode, "-o", out, "-p", "1", "watch", LOGIN])
            self.assertEqual(p.returncode, 2, (mode, p.stderr))
            self.assertIn("--mode", p.stderr)
            self.assertIn(why, p.stderr, mode)
            self.assertFalse(os.path.exists(out) or os.path.exists(out + ".partial"))

    def test_partial_and_private_directory_while_recording(self):
        t = Target("rd_loop.py")
        try:
            t.wait_for("ready")
            out = os.path.join(self.tmp.name, "live.tar.zst")
            p = subprocess.Popen([REC, "-q", "-p", str(t.pid), "-d", "2", "--mode", "0640", "-o", out,
                                  "watch", LOGIN], env=tool_env(target_env(), False),
                                 preexec_fn=lambda: os.umask(0o022), stderr=subprocess.PIPE, text=True)
            seen = None
            end = time.monotonic() + 30
            while time.monotonic() < end and p.poll() is None:
                try:
                    if os.path.getsize(out + ".partial") > 0:   # session.json is in: recording
                        seen = mode_of(out + ".partial")
                        dirs = [d for d in os.listdir(RUNTIME_DIR) if d.startswith("peeka-")]
                        break
                except OSError:
                    pass
                time.sleep(0.02)
            self.assertEqual(seen, 0o600)
            self.assertEqual(len(dirs), 1)
            self.assertEqual(mode_of(os.path.join(RUNTIME_DIR, dirs[0])), 0o700)
            self.assertEqual(p.wait(60), 0, p.stderr.read())
            p.stderr.close()
            self.assertEqual(mode_of(out), 0o640)
            self.assertFalse(os.path.exists(out + ".partial"))
            self.assert_no_secret(out)
        finally:
            t.stop()

    def test_a_planted_partial_link_is_not_followed(self):
        out = os.path.join(self.tmp.name, "r1.tar.zst")
        victim = os.path.join(self.tmp.name, "victim")
        with open(victim, "w") as f:
            f.write("untouched")
        os.chmod(victim, 0o644)
        os.symlink(victim, out + ".partial")
        self.record(WATCHES)
        with open(victim) as f:
            self.assertEqual(f.read(), "untouched")
        self.assertEqual(mode_of(victim), 0o644)
        self.assertEqual(mode_of(out), 0o600)


class RedactInAgent(Recorded):
    def test_default_rules_leave_no_secret(self):
        out = self.record(WATCHES)
        self.assert_no_secret(out)
        recs = self.assert_counts(out, {LOGIN: 2 * ROUNDS, CHECK: ROUNDS, REFUSE: ROUNDS})
        session, _, _, _ = read_archive(out)
        self.assertEqual(session["redaction"], {"default": True, "rules": [secrets_default()],
                                                "replacement": "[redacted]"})
        self.assertEqual(session["target"]["argv"][-3:], ["--password", "[redacted]", "token=[redacted]"])
        logins = [r for r in recs if r["func_name"] == LOGIN]
        a, b = logins[0], logins[1]
        self.assertEqual(a["param_names"], ["user", "password", "creds"])
        self.assertEqual(a["params"][:2], ["alice", "[redacted]"])
        self.assertEqual(a["params"][2], {"__class__": "rd.auth.Creds", "__attrs__": {
            "user": "alice", "password": "[redacted]", "api_key": "[redacted]", "pin": secrets.CUSTOM}})
        self.assertEqual(a["kwargs"], {"token": "[redacted]", "api_key": "[redacted]",
                                       "auth": {"user": "alice", "auth": {"Password": "[redacted]", "round": 0}}})
        self.assertEqual(a["returnObj"], {"user": "alice", "ok": True, "session": "[redacted]",
                                          "meta": {"cookie": "[redacted]", "visits": 3}})
        self.assertEqual(b["params"][2]["__attrs__"], {"user": "bob", "token": "[redacted]"})
        self.assertEqual(b["kwargs"], {"note": "keep-me-0"})
        check = [r for r in recs if r["func_name"] == CHECK][0]
        self.assertEqual(check["params"], ["[redacted]"])
        self.assertEqual(check["target"]["__attrs__"]["password"], "[redacted]")
        self.assertIs(check["returnObj"], False)
        refuse = [r for r in recs if r["func_name"] == REFUSE][0]
        self.assertEqual(refuse["params"], ["carol", "[redacted]"])
        self.assertEqual(refuse["throwExp"], "PermissionError: login refused for user=carol "
                         "password=[redacted] token: '[redacted]' Authorization: [redacted]")
        self.assertEqual([r["kwargs"].get("note") for r in recs if r["func_name"] == LOGIN][1::2],
                         ["keep-me-%d" % i for i in range(ROUNDS)])

    def test_no_default_redact_keeps_them(self):
        out = self.record(WATCHES, extra=["--no-default-redact"])
        recs = self.assert_counts(out, {LOGIN: 2 * ROUNDS, CHECK: ROUNDS, REFUSE: ROUNDS})
        session, _, _, _ = read_archive(out)
        self.assertEqual(session["redaction"]["rules"], [])
        self.assertFalse(session["redaction"]["default"])
        self.assertIn(ARGV_SECRET, session["target"]["argv"])
        raw = b"".join(d for _, d in raw_members(out).values())
        for s in secrets.ALL:
            self.assertIn(s.encode(), raw, s)
        a = [r for r in recs if r["func_name"] == LOGIN][0]
        self.assertEqual(a["params"][1], secrets.PASSWORD)
        self.assertEqual(a["kwargs"]["auth"]["auth"]["Password"], secrets.NESTED)

    def test_custom_rules_global_and_per_probe(self):
        out = self.record(["watch %s -x 4 --redact ^user$" % LOGIN, "watch %s -x 3" % CHECK],
                          extra=["--redact", "PIN"])
        self.assert_no_secret(out, secrets.ALL + [secrets.CUSTOM])
        recs = self.assert_counts(out, {LOGIN: 2 * ROUNDS, CHECK: ROUNDS})
        session, _, _, _ = read_archive(out)
        self.assertEqual(session["redaction"]["rules"], [secrets_default(), "PIN"])
        self.assertEqual([p["options"]["redact"] for p in session["probes"]], [["^user$"], []])
        a = [r for r in recs if r["func_name"] == LOGIN][0]
        self.assertEqual(a["params"], ["[redacted]", "[redacted]", {"__class__": "rd.auth.Creds", "__attrs__": {
            "user": "[redacted]", "password": "[redacted]", "api_key": "[redacted]", "pin": "[redacted]"}}])
        self.assertEqual(a["kwargs"]["auth"], {"user": "[redacted]", "auth": {"Password": "[redacted]", "round": 0}})
        check = [r for r in recs if r["func_name"] == CHECK][0]   # ^user$ is login's only
        self.assertEqual(check["target"]["__attrs__"]["user"], "alice")
        self.assertEqual(check["target"]["__attrs__"]["pin"], "[redacted]")

    def test_bad_rules_are_usage_errors(self):
        out = os.path.join(self.tmp.name, "bad.tar.zst")
        for args, why in ((["--redact", "(", "watch", LOGIN], "not a valid regular expression"),
                          (["--redact", "", "watch", LOGIN], "empty"),
                          (["watch", LOGIN, "--redact", "a[b"], "not a valid regular expression"),
                          (["monitor", LOGIN, "--redact", "x"], "does not apply to monitor")):
            p = run_rec(["-o", out, "-p", "1"] + args)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn(why, p.stderr)
            self.assertFalse(os.path.exists(out + ".partial"))

    def test_trace_stack_monitor_leak_nothing(self):
        out = self.record(["trace %s" % LOGIN, "trace %s" % REFUSE, "stack %s" % LOGIN,
                           "stack %s" % CHECK, "monitor %s --interval 60" % LOGIN])
        self.assert_no_secret(out)
        _, recs, _, _ = read_archive(out)
        kinds = {}
        for r in recs:
            kinds[(r["kind"], r["func_name"])] = kinds.get((r["kind"], r["func_name"]), 0) + 1
        mon = [r for r in recs if r["kind"] == "monitor"]
        self.assertEqual(kinds, {("trace", LOGIN): 2 * ROUNDS, ("trace", REFUSE): ROUNDS,
                                 ("stack", LOGIN): 2 * ROUNDS, ("stack", CHECK): ROUNDS,
                                 ("monitor", LOGIN): len(mon)})
        self.assertEqual(sum(r["total"] for r in mon), 2 * ROUNDS)
        t = [r for r in recs if r["kind"] == "trace" and r["func_name"] == REFUSE][0]
        self.assertEqual(t["throwExp"], "PermissionError: login refused for user=carol "
                         "password=[redacted] token: '[redacted]' Authorization: [redacted]")
        s = [r for r in recs if r["kind"] == "stack" and r["func_name"] == LOGIN][0]
        self.assertEqual(s["params"][:2], ["alice", "[redacted]"])
        self.assertEqual(s["kwargs"]["token"], "[redacted]")


def secrets_default():
    return "password|passwd|secret|token|api[_-]?key|authorization|cookie|session"


class RedactScript(Recorded):
    VALUE_FIELDS = ("params", "kwargs", "target", "returnObj", "throwExp")

    def test_redact_cleans_an_archive_recorded_without_rules(self):
        probes = WATCHES + ["trace %s" % REFUSE, "stack %s -n 2" % LOGIN]
        raw = self.record(probes, extra=["--no-default-redact"])
        agent = self.record(probes)   # the same calls, redacted by the agent
        clean = os.path.join(self.tmp.name, "clean.tar.zst")
        p = analyze(raw, "redact", "--arg", "out=" + clean)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("wrote %s: %d records" % (clean, 6 + 3 + 3 + 3 + 2), p.stdout)
        self.assertEqual(mode_of(clean), 0o600)
        self.assert_no_secret(clean)
        s_raw, r_raw, sum_raw, _ = read_archive(raw)
        s_clean, r_clean, sum_clean, names = read_archive(clean)
        _, r_agent, _, _ = read_archive(agent)
        self.assertEqual([n.split("/", 1)[1] for n in names],
                         ["session.json", "data/000001.jsonl", "summary.json"])
        self.assertEqual(len(r_clean), len(r_raw))
        self.assertEqual(sum_clean["records"], len(r_clean))
        self.assertEqual([p["observations"] for p in sum_clean["probes"]],
                         [p["observations"] for p in sum_raw["probes"]])
        self.assertEqual(sum_clean["reason"], sum_raw["reason"])
        self.assertTrue(sum_clean["complete"])
        for a, b, c in zip(r_raw, r_clean, r_agent):
            # everything but the values is the recorded record
            self.assertEqual({k: v for k, v in a.items() if k not in self.VALUE_FIELDS},
                             {k: v for k, v in b.items() if k not in self.VALUE_FIELDS})
            # the values are what the agent itself would have written
            self.assertEqual({k: b.get(k) for k in self.VALUE_FIELDS},
                             {k: c.get(k) for k in self.VALUE_FIELDS}, b["func_name"])
        self.assertEqual(s_clean["target"]["argv"][-3:], ["--password", "[redacted]", "token=[redacted]"])
        self.assertEqual(s_clean["redaction"]["offline"][0]["rules"], [secrets_default()])
        self.assertEqual(s_clean["probes"], s_raw["probes"])
        # once clean, clean: nothing more to replace
        again = os.path.join(self.tmp.name, "again.tar.zst")
        p = analyze(clean, "redact", "--arg", "out=" + again)
        self.assertIn("0 values redacted", p.stdout)

    def test_redact_with_keys_and_without_defaults(self):
        raw = self.record(WATCHES, extra=["--no-default-redact"])
        out = os.path.join(self.tmp.name, "pin.tar.zst")
        p = analyze(raw, "redact", "--arg", "out=" + out, "--arg", "keys=^pin$", "--arg", "defaults=false")
        self.assertEqual(p.returncode, 0, p.stderr)
        members = b"".join(d for _, d in raw_members(out).values())
        self.assertNotIn(secrets.CUSTOM.encode(), members)
        self.assertIn(secrets.PASSWORD.encode(), members)
        self.assert_counts(out, {LOGIN: 2 * ROUNDS, CHECK: ROUNDS, REFUSE: ROUNDS})

    def test_redact_refuses_bad_arguments(self):
        raw = self.record(WATCHES)
        out = os.path.join(self.tmp.name, "x.tar.zst")
        for args, why in ((["--arg", "out=" + out, "--arg", "keys=("], "not a valid regular expression"),
                          ([], "redact needs --arg out="),
                          (["--arg", "out=" + raw], "must not be"),
                          (["--arg", "out=" + out, "--arg", "defaults=false"], "no rule left")):
            p = analyze(raw, "redact", *args)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn(why, p.stderr)
            self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    unittest.main()
