"""How peeka-rec gets in, per interpreter: the PEP 768 route on 3.14+ (the
interpreter runs the bootstrap at a safe point; session.json says
`remote-exec`), the fall-back to ptrace where no thread runs Python, the
refusal when the target turned remote debugging off, --via, the table
of _Py_DebugOffsets fields checked against the interpreter's own headers,
and on 3.8-3.12 the agent's layout table checked against them too."""
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import unittest

from peeka_testlib import (BUILD, PY, REC, TARGETS, TARGET_VERSION, ROOT, launch, probes_in,
                           read_archive, rec, target_env)

PER_INTERPRETER = True
N = 37
PEP768 = TARGET_VERSION >= (3, 14)
DEBUG_OFFSETS = TARGET_VERSION >= (3, 13)   # _Py_DebugOffsets


class RouteTarget:
    """tests/targets/rx_target.py MODE, started with extra interpreter flags."""

    def __init__(self, tmp, mode, pyflags=(), env=None):
        self.go = os.path.join(tmp, "go")
        self.mode = mode
        self.log = open(os.path.join(tmp, "target.out"), "w+")
        self.proc = subprocess.Popen([PY] + list(pyflags) +
                                     [os.path.join(TARGETS, "rx_target.py"), mode, self.go, str(N)],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     env=target_env(env), cwd=TARGETS)
        self.pid = self.proc.pid
        self.wait_for("ready")

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def wait_for(self, text):
        end = time.monotonic() + 20
        while text not in self.output():
            if self.proc.poll() is not None or time.monotonic() > end:
                raise AssertionError("target never printed %r:\n%s" % (text, self.output()))
            time.sleep(0.02)

    def go_now(self):
        if self.mode == "idle":
            with open(self.go, "wb") as f:
                f.write(b"x")
        else:
            open(self.go, "w").close()

    def agent_loaded(self):
        with open("/proc/%d/maps" % self.pid) as f:
            return "_peeka_agent" in f.read()

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()


class Routes(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="peeka-rx-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def target(self, mode, **kw):
        t = RouteTarget(self.tmp, mode, **kw)
        self.addCleanup(t.stop)
        return t

    def record(self, t, *via):
        """Attaches, lets the target make its N calls, returns the archive."""
        out = os.path.join(self.tmp, "r.tar.zst")
        p = subprocess.Popen([REC, "-q", "-p", str(t.pid), "-o", out]
                             + list(via) + ["watch", "rx.mod.work", "-n", str(N)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=target_env(), cwd=TARGETS)
        end = time.monotonic() + 30
        while p.poll() is None and time.monotonic() < end and not probes_in(out):
            time.sleep(0.02)
        t.go_now()
        stdout, stderr = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, stderr)
        self.assertEqual(stderr, "")
        session, records, summary, _ = read_archive(out)
        self.assertEqual(len(records), N)
        self.assertEqual(sorted(r["params"][0] for r in records), list(range(N)))
        self.assertEqual(summary["records"], N)
        t.wait_for("done")
        return session

    def assert_clean_output(self, t):
        # the target printed nothing of ours: no "Exception ignored", no path
        self.assertEqual(t.output().split(), ["ready", "done"])

    @unittest.skipUnless(PEP768, "PEP 768 exists on CPython 3.14+")
    def test_busy_main_thread_uses_remote_exec(self):
        t = self.target("busy")
        s = self.record(t)
        self.assertEqual(s["attach"]["route"], "remote-exec")
        self.assertNotIn("fallback", s["attach"])
        self.assertGreater(s["attach"]["ms"], 0)
        self.assert_clean_output(t)

    @unittest.skipUnless(PEP768, "PEP 768 exists on CPython 3.14+")
    def test_worker_thread_runs_it_while_main_is_blocked(self):
        t = self.target("worker")
        s = self.record(t)
        self.assertEqual(s["attach"]["route"], "remote-exec")
        self.assert_clean_output(t)

    @unittest.skipUnless(PEP768, "PEP 768 exists on CPython 3.14+")
    def test_idle_process_falls_back_to_ptrace(self):
        t = self.target("idle")
        s = self.record(t)
        self.assertEqual(s["attach"]["route"], "thread")
        self.assertIn("no thread ran Python", s["attach"]["fallback"])
        self.assert_clean_output(t)

    @unittest.skipUnless(PEP768, "PEP 768 exists on CPython 3.14+")
    def test_remote_debugging_disabled_is_respected(self):
        for how in ({"env": {"PYTHON_DISABLE_REMOTE_DEBUG": "1"}},
                    {"pyflags": ("-X", "disable-remote-debug")}):
            t = self.target("busy", **how)
            p = rec("-q", "-p", t.pid, "-o", os.path.join(self.tmp, "no.tar.zst"),
                    "watch", "rx.mod.work")
            self.assertEqual(p.returncode, 13, p.stderr)
            self.assertIn("remote debugging turned off", p.stderr)
            self.assertIn("PYTHON_DISABLE_REMOTE_DEBUG", p.stderr)
            self.assertIn("-X disable-remote-debug", p.stderr)
            self.assertIn("--via ptrace", p.stderr)
            self.assertFalse(t.agent_loaded(), "refused, yet the agent was loaded")
            self.assertFalse(os.path.exists(os.path.join(self.tmp, "no.tar.zst")))
            s = self.record(t, "--via", "ptrace")   # asked for: allowed
            self.assertIn(s["attach"]["route"], ("thread", "pending"))
            t.stop()
            self.assertEqual(t.proc.returncode, -9)
            os.unlink(t.go)
            os.unlink(os.path.join(self.tmp, "r.tar.zst"))

    @unittest.skipUnless(PEP768, "PEP 768 exists on CPython 3.14+")
    def test_forced_remote_exec_on_idle_process_fails_clearly(self):
        t = self.target("idle")
        p = rec("-q", "-p", t.pid, "-o", os.path.join(self.tmp, "no.tar.zst"),
                "--via", "remote-exec", "watch", "rx.mod.work")
        self.assertEqual(p.returncode, 19, p.stderr)
        self.assertIn("no thread ran Python", p.stderr)
        t.go_now()
        t.wait_for("done")
        self.assertEqual(t.output().split(), ["ready", "done"])

    def test_timeout_names_the_gil_holder(self):
        """From _Py_DebugOffsets on 3.13+, from the agent's layout table
        before."""
        t = self.target("gilhold")
        holder = t.output().split()[1]   # "ready NATIVE_ID"
        with open("/proc/%d/task/%s/comm" % (t.pid, holder)) as f:
            name = f.read().strip()   # "holder" from 3.14 on, which names OS threads
        time.sleep(0.3)   # from its print into the C call
        # (a one-shot thread probe would be read from outside instead:
        # test_thread_outside)
        p = rec("-q", "-p", t.pid, "--timeout", "2", "-o", os.path.join(self.tmp, "no.tar.zst"),
                "watch", "rx.mod.work")
        self.assertEqual(p.returncode, 17, p.stderr)
        self.assertEqual(p.stderr.strip(),
                         "peeka-rec: the agent did not connect within 2000 ms: thread %s (%s) "
                         "has held the GIL the whole time (a long C call that keeps it: the agent "
                         "runs only once it is released)" % (holder, name))

    @unittest.skipIf(PEP768, "before 3.14 only")
    def test_before_pep768_ptrace_is_used(self):
        t = self.target("busy")
        p = rec("-q", "-p", t.pid, "-o", os.path.join(self.tmp, "no.tar.zst"),
                "--via", "remote-exec", "watch", "rx.mod.work")
        self.assertEqual(p.returncode, 19, p.stderr)
        self.assertIn("needs CPython 3.14 or later", p.stderr)
        s = self.record(t)
        self.assertIn(s["attach"]["route"], ("thread", "pending"))
        self.assertNotIn("fallback", s["attach"])

    def test_launch_route(self):
        p, out = launch(self.tmp, ["watch wt.funcs.add"], "wt_calls.py")
        self.assertEqual(p.returncode, 0, p.stderr)
        s = read_archive(out)[0]
        self.assertEqual(s["attach"]["route"], "launch")
        self.assertGreater(s["attach"]["ms"], 0)

    def test_bad_via(self):
        p = rec("-p", os.getpid(), "--via", "telepathy", "watch", "x.y")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--via is auto, remote-exec, ptrace or gdb", p.stderr)


@unittest.skipUnless(DEBUG_OFFSETS, "_Py_DebugOffsets exist on CPython 3.13+")
class DebugOffsetsTable(unittest.TestCase):
    """recorder/debug_offsets.c against this interpreter's own headers."""

    def test_table_matches_headers(self):
        inc = subprocess.run([PY, "-c", "import sysconfig; print(sysconfig.get_paths()['include'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
        if not os.path.exists(os.path.join(inc, "internal", "pycore_runtime.h")):
            self.skipTest("no internal headers in %s" % inc)
        tmp = tempfile.mkdtemp(prefix="peeka-dbgoff-")
        self.addCleanup(shutil.rmtree, tmp, True)
        exe = os.path.join(tmp, "check")
        subprocess.run(["cc", "-I" + inc, "-I" + os.path.join(inc, "internal"),
                        "-I" + os.path.join(ROOT, "recorder"), "-o", exe,
                        os.path.join(ROOT, "tests", "fixtures", "debug_offsets_check.c"),
                        os.path.join(ROOT, "recorder", "debug_offsets.c")], check=True)
        r = subprocess.run([exe], capture_output=True, text=True)
        self.assertEqual((r.returncode, r.stdout), (0, "ok\n"))


@unittest.skipUnless((3, 8) <= TARGET_VERSION < (3, 13), "the agent's layout table is for 3.8-3.12")
class LayoutTable(unittest.TestCase):
    """The layout table of the agent this interpreter is attached with
    (agent/py_layout.c, built from the first interpreter of its minor
    version) against this interpreter's own headers."""

    def test_agent_matches_headers(self):
        inc = subprocess.run([PY, "-c", "import sysconfig; print(sysconfig.get_paths()['include'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
        if not os.path.isdir(os.path.join(inc, "internal")):
            self.skipTest("no internal headers in %s" % inc)
        tmp = tempfile.mkdtemp(prefix="peeka-layout-")
        self.addCleanup(shutil.rmtree, tmp, True)
        exe = os.path.join(tmp, "check")
        subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-DPy_BUILD_CORE", "-I" + inc,
                        "-I" + os.path.join(inc, "internal"), "-I" + os.path.join(ROOT, "common"),
                        "-I" + os.path.join(ROOT, "recorder"), "-o", exe,
                        os.path.join(ROOT, "tests", "fixtures", "py_layout_check.c"),
                        os.path.join(ROOT, "recorder", "elf_symbols.c")], check=True)
        agent = os.path.join(BUILD, "lib", "peeka", "agent", "cp%d%d" % TARGET_VERSION[:2],
                             "_peeka_agent.so")
        r = subprocess.run([exe, agent], capture_output=True, text=True)
        self.assertEqual((r.returncode, r.stdout), (0, "ok\n"))


if __name__ == "__main__":
    unittest.main()
