"""peeka-analyze on bad input: each case gets its documented exit code
(2 usage or script error, 3 unreadable archive) and a message that names
the problem and says what to do.  Incomplete archives are analysed (0)."""
import gzip
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import unittest

import archive_fixture as af
from peeka_testlib import tool_env

PER_INTERPRETER = False
BUILD = os.environ.get("PEEKA_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
ANALYZE = os.path.join(BUILD, "bin", "peeka-analyze")


def run(*args):
    return subprocess.run([ANALYZE] + [str(a) for a in args], capture_output=True, text=True, timeout=120,
                          env=tool_env(dict(os.environ), False))


class BadArchives(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="peeka-analyze-bad-")
        cls.good = os.path.join(cls.tmp, "good.tar.zst")
        recs = [af.watch_record("app.f", 1000 + i, seq=i + 1, params=["x" * 200]) for i in range(400)]
        af.write_archive(cls.good, recs, chunk_bytes=20000)
        with open(cls.good, "rb") as f:
            cls.data = f.read()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def put(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def assertExit(self, p, code, *needles):
        self.assertEqual(p.returncode, code, "stdout: %s\nstderr: %s" % (p.stdout[-2000:], p.stderr[-2000:]))
        for n in needles:
            self.assertIn(n, p.stderr)

    def test_good_archive(self):
        self.assertExit(run(self.good, "summary"), 0)

    def test_corrupt_bytes(self):
        data = bytearray(self.data)
        mid = len(data) // 2
        for i in range(mid, mid + 64):
            data[i] ^= 0x5A
        path = self.put("corrupt.tar.zst", bytes(data))
        p = run(path, "summary")
        self.assertExit(p, 3, path)

    def test_truncated_is_incomplete_not_fatal(self):
        path = self.put("cut.tar.zst", self.data[: len(self.data) * 2 // 3])
        p = run(path, "summary", "-f", "json")
        self.assertExit(p, 0, path, "incomplete", "truncated")
        calls = json.loads(p.stdout)["rows"][0]["calls"]
        self.assertTrue(0 < calls < 400, calls)

    def test_empty_file(self):
        self.assertExit(run(self.put("empty.tar.zst", b""), "summary"), 3, "empty file", ".tar.zst")

    def test_missing_file(self):
        self.assertExit(run(os.path.join(self.tmp, "nope.tar.zst"), "summary"), 3, "nope.tar.zst",
                        "No such file")

    def test_not_zstd(self):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as t:
            info = tarfile.TarInfo("x/session.json")
            info.size = 2
            t.addfile(info, io.BytesIO(b"{}"))
        self.assertExit(run(self.put("gz.tar.zst", buf.getvalue()), "summary"), 3, "gzip", "zstd")
        self.assertExit(run(self.put("text.tar.zst", b"hello world\n" * 10), "summary"), 3,
                        "not zstd-compressed")

    def test_zstd_but_not_tar(self):
        self.assertExit(run(self.put("plain.zst", af.zstd_frame(b"just text, no tar\n" * 100)), "summary"),
                        3, "plain.zst", "tar")

    def test_tar_without_session(self):
        data = af.zstd_frame(af.tar_member("x/readme.txt", b"hi") + b"\0" * 1024)
        self.assertExit(run(self.put("nosession.tar.zst", data), "summary"), 3, "not a peeka archive")

    def test_newer_format_version(self):
        path = os.path.join(self.tmp, "v9.tar.zst")
        af.write_archive(path, [], session=af.session_doc(format_version=9))
        self.assertExit(run(path, "summary"), 3, "format_version 9", "newer peeka-analyze")

    def test_oversized_line(self):
        path = os.path.join(self.tmp, "huge.tar.zst")
        w = af.ArchiveWriter(path, chunk_bytes=64 << 20)
        w.add_lines(['{"type":"observation","kind":"watch","params":["' + "a" * (17 << 20) + '"]}'])
        w.close()
        self.assertExit(run(path, "summary"), 3, "longer than 16 MiB")

    def test_deeply_nested_json(self):
        path = os.path.join(self.tmp, "deep.tar.zst")
        w = af.ArchiveWriter(path)
        w.add_lines(['{"type":"observation","kind":"watch","params":' + "[" * 100000 + "]" * 100000 + "}"])
        w.close()
        self.assertExit(run(path, "summary"), 3, "nested deeper than 512")

    def test_invalid_json_line(self):
        path = os.path.join(self.tmp, "badline.tar.zst")
        w = af.ArchiveWriter(path)
        w.add_records([af.watch_record("app.f", 1000)])
        w.add_lines(['{"type": "observation", "kind": "watch", oops}'])
        w.close()
        self.assertExit(run(path, "summary"), 3, "badline.tar.zst", "data/000001.jsonl line 2",
                        "not valid JSON")


class BadScripts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="peeka-analyze-badlua-")
        cls.arc = os.path.join(cls.tmp, "a.tar.zst")
        af.write_archive(cls.arc, [af.watch_record("app.f", 1000 + i, seq=i + 1) for i in range(20)],
                         chunk_bytes=500)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def lua(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_syntax_error(self):
        path = self.lua("syntax.lua", "local x = \nfor do\n")
        p = run(self.arc, path)
        self.assertEqual(p.returncode, 2)
        self.assertIn("syntax.lua:2:", p.stderr)

    def test_runtime_error_has_traceback_and_record(self):
        path = self.lua("boom.lua", "local n = 0\nfor r in peeka.records{} do\n  n = n + 1\n"
                                    "  if r.seq == 7 then local x = nil; x.field = 1 end\nend\n")
        p = run(self.arc, path)
        self.assertEqual(p.returncode, 2)
        self.assertIn("boom.lua:4:", p.stderr)
        self.assertIn("stack traceback", p.stderr)
        self.assertRegex(p.stderr, r"record at .*a\.tar\.zst: a/data/0000\d\d\.jsonl line \d+")

    def test_error_in_callback(self):
        path = self.lua("cb.lua", "function on_watch(r)\n  error('bad record ' .. r.seq)\nend\n")
        p = run(self.arc, path)
        self.assertEqual(p.returncode, 2)
        self.assertIn("cb.lua:2: bad record 1", p.stderr)
        self.assertIn("a/data/000001.jsonl line 1", p.stderr)

    def test_bytecode_refused(self):
        src = self.lua("ok.lua", "print('hi')\n")
        out = os.path.join(self.tmp, "ok.luac")
        subprocess.run(["luac5.4", "-o", out, src], check=True)
        p = run(self.arc, out)
        self.assertEqual(p.returncode, 2)
        self.assertIn("bytecode is refused", p.stderr)
        p = run(self.arc, "-e", "local f = assert(io.open('%s','rb')):read('a'); print(load(f))" % out)
        self.assertIn("attempt to load a binary chunk", p.stdout)

    def test_require_reads_only_the_script_lib_as_text(self):
        p = run(self.arc, "-e", 'local p = require("profile") print(type(p.tree), table.concat(p.kinds(), ","))')
        self.assertEqual((p.returncode, p.stdout), (0, "function\tstack,top,trace,watch\n"), p.stderr)
        lib = os.path.join(self.tmp, "scripts", "lib")
        os.makedirs(lib, exist_ok=True)
        subprocess.run(["luac5.4", "-o", os.path.join(lib, "evil.lua"), self.lua("evil-src.lua", "print('x')\n")],
                       check=True)
        with open(os.path.join(self.tmp, "here.lua"), "w") as f:
            f.write("print('loaded from the working directory')\n")
        env = tool_env(dict(os.environ, PEEKA_SCRIPT_DIR=os.path.join(self.tmp, "scripts")), False)
        def req(name):
            return subprocess.run([ANALYZE, self.arc, "-e", 'require("%s")' % name], capture_output=True, text=True,
                                  timeout=60, env=env, cwd=self.tmp)
        p = req("evil")
        self.assertEqual(p.returncode, 2)
        self.assertIn("attempt to load a binary chunk", p.stderr)
        p = req("here")                        # ./?.lua is not searched, nor C modules
        self.assertEqual(p.returncode, 2)
        self.assertIn("module 'here' not found", p.stderr)
        self.assertIn(os.path.join(lib, "here.lua"), p.stderr)
        self.assertNotIn("./here.lua", p.stderr)
        self.assertNotIn(".so", p.stderr)
        self.assertNotIn("loaded from the working directory", p.stdout)

    def test_unknown_script(self):
        p = run(self.arc, "summray")
        self.assertEqual(p.returncode, 2)
        self.assertIn("summray", p.stderr)
        self.assertIn("summary", p.stderr)       # lists the real ones
        p = run("-i", "nosuch")
        self.assertEqual(p.returncode, 2)

    def test_wrong_argument_type(self):
        p = run(self.arc, "summary", "--arg", "top=many")
        self.assertEqual(p.returncode, 2)
        self.assertIn("argument 'top' expects an integer, like 20, got 'many'", p.stderr)
        p = run(self.arc, "summary", "--arg", "sort=bogus")
        self.assertEqual(p.returncode, 2)
        self.assertIn("peeka-analyze -i summary", p.stderr)
        p = run(self.arc, "summary", "--arg", "colour=red")
        self.assertEqual(p.returncode, 2)
        self.assertIn("has no argument 'colour'", p.stderr)
        p = run(self.arc, "slowest", "--arg", "min_cost=fast")
        self.assertEqual(p.returncode, 2)
        self.assertIn("duration", p.stderr)

    def test_usage_errors(self):
        self.assertEqual(run("summary").returncode, 2)                      # no archive
        self.assertEqual(run(self.arc).returncode, 2)                       # no script
        self.assertEqual(run(self.arc, "summary", "--format", "xml").returncode, 2)
        self.assertEqual(run(self.arc, "--bogus").returncode, 2)
        p = run(self.arc, "compare")
        self.assertEqual(p.returncode, 2)
        self.assertIn("at least 2 archives", p.stderr)
        p = run(self.arc, "-e", "for r in peeka.records{colour='red'} do end")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown record filter 'colour'", p.stderr)

    def test_fail_exits_1(self):
        p = run(self.arc, "-e", "peeka.fail('p95 over budget'); print('still ran')")
        self.assertEqual(p.returncode, 1)
        self.assertIn("still ran", p.stdout)
        self.assertIn("p95 over budget", p.stderr)


class NullFields(unittest.TestCase):
    """Every field docs/format.md allows to be null is null somewhere in one
    archive, and every built-in script reads it in every output format
    (info used to crash on a killed program's summary)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="peeka-null-test-")
        session = af.session_doc(limits={"duration_s": None, "max_records": None})
        session["probes"][0]["options"]["condition"] = None
        recs = []
        for i in range(30):
            r = af.watch_record("app.f", 1000 + i, seq=i + 1, params=[None, {"k": None}],
                                target=None, ret=None, thread_name=None)
            recs.append(r)
        recs.append(af.watch_record("app.f", 5000, seq=31, throw="ValueError: bad 7", thread_name=None))
        tree = af.node("app.root", 9000, [af.node("builtins.len", 100, builtin=True, file=None, line=None)])
        recs.append(af.trace_record(tree, seq=1, thread_name=None))
        stack = dict(af.watch_record("app.f", 0, seq=32, thread_name=None), kind="stack",
                     location="AtEnter", cost=None, cost_ns=None, returnObj=None,
                     stack=[{"filename": None, "lineno": None, "function": None, "code_context": None}])
        recs.append(stack)
        cls.path = os.path.join(cls.tmp, "nulls.tar.zst")
        af.write_archive(cls.path, recs, session=session, drops=None, target_exit=None,
                         probes=[{"id": 1, "pattern": "app.*", "observations": 33, "drops": None,
                                  "condition_errors": None, "installed": None, "pending": None},
                                 {"id": 2, "pattern": "app.root", "observations": 1, "drops": None,
                                  "condition_errors": None, "installed": None, "pending": None}])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_every_script_every_format(self):
        listing = run("-l").stdout.split("\n")
        scripts = [line.split()[0] for line in listing if line.strip()]
        self.assertIn("info", scripts)
        for name in scripts:
            for fmt in ("text", "json", "markdown"):
                args = [self.path]
                if name == "compare":
                    args.append(self.path)
                args += [name, "--format", fmt]
                if name in ("slice", "redact"):
                    args += ["--arg", "out=" + os.path.join(self.tmp, "%s-%s.tar.zst" % (name, fmt))]
                p = run(*args)
                self.assertEqual(p.returncode, 0, "%s --format %s: %s" % (name, fmt, p.stderr))
                self.assertNotIn("error", p.stderr, "%s --format %s" % (name, fmt))

    def test_info_says_unknown(self):
        p = run(self.path, "info")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"drops\s+unknown")
        self.assertIn("unknown dropped", p.stdout)


if __name__ == "__main__":
    unittest.main()
