"""Targets peeka must refuse before it injects anything, with exit 11 and a
message that says why: free-threaded CPython builds (the agent relies on the
GIL).  The targets are small C programs that carry exactly the markers
peeka-rec reads (tests/fixtures/fake_python.c): no free-threaded CPython is
packaged for this machine, and the refusal happens before any Python code
of the target would run."""
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from peeka_testlib import ROOT, rec

PER_INTERPRETER = False
SRC = os.path.join(ROOT, "tests", "fixtures", "fake_python.c")


class FreeThreaded(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="peeka-refusal-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def build(self, name, *defines):
        exe = os.path.join(self.tmp, name)
        subprocess.run(["cc", "-O0", "-g", "-rdynamic", "-o", exe, SRC] + list(defines), check=True)
        return exe

    def refused(self, exe):
        p = subprocess.Popen([exe], stdout=subprocess.PIPE)
        try:
            self.assertEqual(p.stdout.readline(), b"ready\n")
            r = rec("-p", p.pid, "-d", "1", "watch", "app.f")
            self.assertEqual(r.returncode, 11, r.stderr)
            self.assertIn("free-threaded CPython 3.13", r.stderr)
            self.assertIn("GIL", r.stderr)
            time.sleep(0.1)
            self.assertIsNone(p.poll(), "the target was harmed")
            self.assertEqual(sorted(os.listdir("/proc/%d/task" % p.pid)), [str(p.pid)])
        finally:
            p.kill()
            p.wait()

    def test_debug_offsets_say_free_threaded(self):
        self.refused(self.build("python-ft", "-DDEBUG_OFFSETS", "-DFREE_THREADED=1"))

    def test_abi_tag_in_the_name(self):
        self.refused(self.build("python3.13t"))

    def test_launch_mode_with_isolated_flag(self):
        """python -I: peeka-rec follows the program from its exec and refuses
        it at its entry point, before any of its code runs, as the
        sitecustomize does."""
        exe = self.build("python3.13t", "-DDEBUG_OFFSETS", "-DFREE_THREADED=1")
        r = rec("-q", "-o", os.path.join(self.tmp, "x.tar.zst"), "watch", "app.f", "--", exe, "-I")
        self.assertEqual(r.returncode, 11, r.stderr)
        self.assertIn("free-threaded CPython 3.13", r.stderr)
        self.assertEqual(r.stdout, "", "the program ran")
        self.assertEqual([f for f in os.listdir(self.tmp) if f.startswith("x.tar")], [])

    def test_default_build_is_not_refused_as_free_threaded(self):
        exe = self.build("python-gil", "-DDEBUG_OFFSETS", "-DFREE_THREADED=0")
        p = subprocess.Popen([exe], stdout=subprocess.PIPE)
        try:
            p.stdout.readline()
            r = rec("-p", p.pid, "-d", "1", "--timeout", "1", "watch", "app.f")
            self.assertNotIn("free-threaded", r.stderr)
            self.assertNotEqual(r.returncode, 0)   # it is no Python after all
        finally:
            p.kill()
            p.wait()


if __name__ == "__main__":
    unittest.main()
