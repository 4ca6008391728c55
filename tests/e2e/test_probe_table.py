"""The probe table (common/probe_table.c) is the one definition of every
probe's options: peeka-rec's parser, its --help and the docs follow it.
`peeka-rec --list-probe-options` prints the table as peeka-rec has it."""
import os
import re
import subprocess
import unittest

from peeka_testlib import REC, ROOT, rec

NO_SUCH_PID = "4194305"   # above any pid_max: parsing passes, attaching fails (exit 10..19)


def table():
    out = subprocess.run([REC, "--list-probe-options"], capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        kind, name, alias, typ, key, dflt, lo, hi, operand = line.split("\t")
        rows.append(dict(kind=kind, name=name, alias=alias, type=typ, key=key, dflt=float(dflt),
                         lo=float(lo), hi=float(hi), operand=["a.b"] if operand else []))
    return rows


# inspect needs a --target before its other options can be tried
OPERAND = {"inspect": ["--target", "a.b"]}


def operand(r):
    return OPERAND.get(r["kind"], r["operand"])


def read(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


def words_in(text):
    """Every option-like word of a text: --name and -x."""
    return set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", text))


class ProbeTable(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rows = table()
        cls.kinds = sorted({r["kind"] for r in cls.rows})

    def test_known_kinds(self):
        for kind in ("watch", "trace", "stack", "monitor", "thread", "top", "memory", "logger", "inspect", "sc", "sm"):
            self.assertIn(kind, self.kinds)
        self.assertEqual(len([r for r in self.rows if r["kind"] == "watch"]), 13)
        self.assertEqual(len([r for r in self.rows if r["kind"] == "thread"]), 7)
        self.assertEqual(len([r for r in self.rows if r["kind"] in ("memory", "logger", "inspect", "sc", "sm")]),
                         2 + 7 + 9 + 1 + 2)

    def test_readme_names_every_option_of_every_probe(self):
        readme = read("README.md")
        words = words_in(readme)
        for r in self.rows:
            with self.subTest(kind=r["kind"], option=r["name"]):
                self.assertTrue(r["kind"] + " " in readme, "README does not name " + r["kind"])
                self.assertTrue(r["name"] in words, "README does not name " + r["name"])
                if r["alias"]:
                    self.assertTrue(r["alias"] in words, "README does not name " + r["alias"])

    def test_help_shows_every_accepted_option(self):
        h = rec("--help")
        self.assertEqual(h.returncode, 0)
        for r in self.rows:
            if r["type"] == "refused":
                continue
            with self.subTest(kind=r["kind"], option=r["name"]):
                self.assertTrue(r["name"] in h.stdout, "--help does not name " + r["name"])
                self.assertTrue("\n  %s " % r["kind"] in h.stdout, "--help does not name " + r["kind"])

    def test_protocol_doc_names_every_request_field(self):
        protocol = read("docs/protocol.md")
        for r in self.rows:
            if r["key"]:
                with self.subTest(kind=r["kind"], key=r["key"]):
                    self.assertTrue(re.search(r"\b%s\b" % re.escape(r["key"]), protocol),
                                    "docs/protocol.md does not name " + r["key"])

    def test_ranges_are_the_tables(self):
        """Each bound is accepted, one past it refused as a usage error that
        names the range."""
        for r in self.rows:
            if r["type"] not in ("int", "number"):
                continue
            pattern = operand(r)
            unit = 1 if r["type"] == "int" else r["lo"] / 10 if r["lo"] else 1
            fmt = lambda v: "%d" % v if r["type"] == "int" else repr(v)
            bounds = [(r["lo"], True), (r["lo"] - unit, False)]
            if r["hi"] != float("inf"):
                bounds += [(r["hi"], True), (r["hi"] + 1, False)]
            for value, ok in bounds:
                with self.subTest(kind=r["kind"], option=r["name"], value=value):
                    p = rec("-p", NO_SUCH_PID, r["kind"], *pattern, r["name"], fmt(value))
                    if ok:
                        self.assertNotEqual(p.returncode, 2, p.stderr)
                    else:
                        self.assertEqual(p.returncode, 2, p.stderr)
                        self.assertIn("%s needs" % r["name"], p.stderr)

    def test_counts(self):
        for r in self.rows:
            if r["type"] != "count":
                continue
            for value, ok in (("-1", True), ("1", True), ("0", False), ("-2", False), ("x", False)):
                with self.subTest(kind=r["kind"], option=r["name"], value=value):
                    p = rec("-p", NO_SUCH_PID, r["kind"], *operand(r), r["alias"] or r["name"], value)
                    self.assertEqual(p.returncode == 2, not ok, p.stderr)
                    if not ok:
                        self.assertIn("needs a positive count (or -1)", p.stderr)

    def test_an_option_of_another_kind_is_refused(self):
        p = rec("-p", NO_SUCH_PID, "monitor", "a.b", "--condition", "x > 1")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown option '--condition'", p.stderr)
        p = rec("-p", NO_SUCH_PID, "monitor", "a.b", "--redact", "x")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--redact does not apply to monitor", p.stderr)


if __name__ == "__main__":
    unittest.main()
