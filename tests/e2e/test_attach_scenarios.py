"""peeka-rec -p against every state a target can be in (the attach issue's
list), with the real agent, followed by detach checks: no agent thread, no
fd, no socket left, and the target's own checks (sleeps lasted their full
time, no EINTR surfaced, results right) still pass at its end.  Then the
error cases, each with its documented exit code."""
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from peeka_testlib import (BUILD, PY, REC, TARGETS, agent_threads, peeka_sockets, read_archive, rec,
                           target_env)

PER_INTERPRETER = True
SECONDS = "3"


class Scenario:
    def __init__(self, script, mode=""):
        self.tmp = tempfile.mkdtemp()
        self.ready = os.path.join(self.tmp, "ready")
        args = [PY, os.path.join(TARGETS, script), self.ready, SECONDS] + ([mode] if mode else [])
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=target_env(), cwd=TARGETS)
        end = time.monotonic() + 10
        while not os.path.exists(self.ready):
            if time.monotonic() > end or self.proc.poll() is not None:
                raise AssertionError("target %s %s never got ready" % (script, mode))
            time.sleep(0.01)
        time.sleep(0.2)
        self.pid = self.proc.pid

    def tasks(self):
        return set(os.listdir("/proc/%d/task" % self.pid))

    def fds(self):
        return set(os.listdir("/proc/%d/fd" % self.pid))

    def finish(self):
        out, _ = self.proc.communicate(timeout=30)
        shutil.rmtree(self.tmp, True)
        return self.proc.returncode, out

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
        shutil.rmtree(self.tmp, True)


class AttachScenarios(unittest.TestCase):
    def attach_and_check(self, script, mode="", pattern="__main__.*"):
        s = Scenario(script, mode)
        try:
            fds_before = s.fds()
            out = os.path.join(s.tmp, "a.tar.zst")
            p = rec("-p", s.pid, "-q", "-d", "0.7", "-o", out, "watch", pattern)
            self.assertEqual(p.returncode, 0, "%s %s: %s" % (script, mode, p.stderr))
            session, _, summary, _ = read_archive(out)
            self.assertEqual(summary["reason"], "duration")
            self.assertEqual(session["target"]["pid"], s.pid)
            # the agent thread is gone (the target's own threads come and go)
            end = time.monotonic() + 2
            while time.monotonic() < end and agent_threads(s.pid):
                time.sleep(0.05)
            self.assertEqual(agent_threads(s.pid), [], "agent thread left in the target")
            self.assertEqual(s.fds() - fds_before, set(), "fd left in the target")
            self.assertEqual(peeka_sockets(), [])
            rc, text = s.finish()
            self.assertEqual(rc, 0, "%s %s disturbed: %s" % (script, mode, text))
            self.assertTrue(text.strip().endswith("ok"), text)
        finally:
            s.kill()

    def test_busy_main_thread(self):
        self.attach_and_check("attach_busy.py")

    def test_sleeping_main_busy_worker(self):
        self.attach_and_check("attach_sleep_worker.py")

    def test_idle_sleep(self):
        self.attach_and_check("attach_idle.py", "sleep")

    def test_idle_join(self):
        self.attach_and_check("attach_idle.py", "join")

    def test_idle_select(self):
        self.attach_and_check("attach_idle.py", "select")

    def test_idle_asyncio(self):
        self.attach_and_check("attach_idle.py", "asyncio")

    def test_idle_http_server(self):
        self.attach_and_check("attach_idle.py", "http")

    def test_threads_come_and_go(self):
        self.attach_and_check("attach_churn.py", "busy")


class AttachErrorsMore(unittest.TestCase):
    def test_no_agent_build(self):
        """An install without the agent for this interpreter: exit 12 and the command."""
        tag = os.environ.get("PEEKA_PYTAG")
        prefix = tempfile.mkdtemp()
        try:
            os.makedirs(os.path.join(prefix, "bin"))
            shutil.copy(REC, os.path.join(prefix, "bin", "peeka-rec"))
            agents = os.path.join(BUILD, "lib", "peeka", "agent")
            for other in os.listdir(agents):
                if other != tag:
                    shutil.copytree(os.path.join(agents, other),
                                    os.path.join(prefix, "lib", "peeka", "agent", other))
            s = Scenario("attach_idle.py", "sleep")
            try:
                p = subprocess.run([os.path.join(prefix, "bin", "peeka-rec"), "-p", str(s.pid), "-d", "1",
                                    "-o", os.path.join(prefix, "x.tar.zst"), "watch", "__main__.idle_sleep"],
                                   capture_output=True, text=True, env=target_env())
                self.assertEqual(p.returncode, 12, p.stderr)
                self.assertIn("no agent for Python", p.stderr)
                self.assertIn("make PYTHONS=", p.stderr)
                self.assertEqual(s.finish()[0], 0)
            finally:
                s.kill()
        finally:
            shutil.rmtree(prefix, True)

    def test_permission_denied(self):
        if os.getuid() != 0 or not shutil.which("setpriv"):
            self.skipTest("needs root to run peeka-rec as another user")
        s = Scenario("attach_idle.py", "sleep")
        outdir = tempfile.mkdtemp()
        os.chmod(outdir, 0o777)
        try:
            env = target_env()
            env.pop("XDG_RUNTIME_DIR", None)
            p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", REC,
                                "-p", str(s.pid), "-d", "1", "-o", os.path.join(outdir, "x.tar.zst"),
                                "watch", "__main__.idle_sleep"], capture_output=True, text=True, env=env)
            self.assertEqual(p.returncode, 13, p.stderr)
            for words in ("ptrace", "CAP_SYS_PTRACE", "ptrace_scope", "--cap-add SYS_PTRACE"):
                self.assertIn(words, p.stderr)
            self.assertEqual(s.finish()[0], 0)
        finally:
            s.kill()
            shutil.rmtree(outdir, True)

    def test_agent_never_connects(self):
        """Main thread inside one long C call and no thread at rest: no safe
        point in time.  Exit 17, nothing run later, the target finishes."""
        s = Scenario("attach_cbusy.py")
        try:
            p = rec("-p", s.pid, "--timeout", "0.5", "-d", "1", "-o", os.path.join(s.tmp, "x.tar.zst"),
                    "watch", "__main__.x")
            self.assertEqual(p.returncode, 17, p.stderr)
            rc, text = s.finish()
            self.assertEqual(rc, 0, text)
            self.assertTrue(text.strip().endswith("ok"), text)
        finally:
            s.kill()

    def test_seccomp_refusal(self):
        s = Scenario("attach_seccomp.py")
        try:
            p = rec("-p", s.pid, "-d", "1", "-o", os.path.join(s.tmp, "x.tar.zst"), "watch", "__main__.x")
            self.assertEqual(p.returncode, 15, p.stderr)
            self.assertIn("seccomp", p.stderr.lower())
            rc, text = s.finish()
            self.assertEqual(rc, 0, text)
        finally:
            s.kill()

    def test_attached_target_exits_before_the_limit(self):
        s = Scenario("attach_idle.py", "sleep")
        try:
            out = os.path.join(s.tmp, "e.tar.zst")
            p = subprocess.Popen([REC, "-p", str(s.pid), "-q", "-d", "60", "-o", out, "watch",
                                  "__main__.idle_sleep"], env=target_env(), stderr=subprocess.PIPE, text=True)
            time.sleep(1.0)
            s.proc.kill()
            self.assertEqual(p.wait(15), 4, p.stderr.read())
            _, _, summary, _ = read_archive(out)
            self.assertEqual(summary["reason"], "target-exited")
            self.assertTrue(summary["complete"])
        finally:
            s.kill()


if __name__ == "__main__":
    unittest.main()
