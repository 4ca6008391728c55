"""Launch mode never loses the program or its exit status: interpreter
flags that keep the sitecustomize out (-I, -S, -E, also in a #! line or
hidden in a wrapper), venvs, signals sent to peeka-rec, a reader of -o -
that goes away, and an agent that cannot be loaded at all."""
import json
import os
import pty
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

from peeka_testlib import (BUILD, PY, REC, TARGET_VERSION, TARGETS, Target, agent_threads,
                           read_archive, rec, target_env, tool_env)

PER_INTERPRETER = True
CALLS = 7


def rec_popen(test, args, **kw):
    """peeka-rec in a session of its own, killed with its program if the
    test is stuck (a read that never returns would hang the suite)."""
    args = [str(a) for a in args]
    p = subprocess.Popen([REC] + args, env=tool_env(target_env(), "--" in args), cwd=TARGETS,
                         text=True, start_new_session=True, **kw)
    guard = threading.Timer(120, lambda: os.killpg(p.pid, signal.SIGKILL))
    guard.start()
    test.addCleanup(guard.cancel)
    return p


class LaunchBase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="peeka-launch-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.out = os.path.join(self.tmp, "rec.tar.zst")

    def assert_calls(self, params, bootstrap, status, reason="target-exited"):
        """The archive is complete and holds exactly these calls of wt.funcs.add."""
        self.assertFalse(os.path.exists(self.out + ".partial"))
        session, recs, summary, _ = read_archive(self.out)
        self.assertIsNotNone(summary, "archive incomplete")
        # how it got in: the sitecustomize, the first frame, or attach mode's way, late
        route = session["attach"]
        if bootstrap == "late-attach":
            self.assertTrue(route.get("late"), route)
            self.assertIn(route["route"], ("thread", "pending", "remote-exec"))
        else:
            self.assertEqual(route["route"], {"sitecustomize": "launch",
                                              "first-frame": "launch-first-frame"}[bootstrap])
            self.assertNotIn("late", route)
        self.assertEqual([r["func_name"] for r in recs], ["wt.funcs.add"] * len(params))
        self.assertEqual(sorted(r["params"] for r in recs), sorted(params))
        self.assertEqual(summary["records"], len(params))
        self.assertEqual(summary["reason"], reason)
        self.assertEqual(summary["target_exit"], status)

    def assert_no_archive(self):
        self.assertFalse(os.path.exists(self.out), "an archive of nothing")
        self.assertFalse(os.path.exists(self.out + ".partial"))


class InterpreterFlags(LaunchBase):
    """python -I, -S and -E never read the sitecustomize on PYTHONPATH:
    peeka-rec follows the program to its first frame instead."""

    def record(self, cmd, status):
        p = rec("-q", "-o", self.out, "watch", "wt.funcs.add", "--", *cmd, timeout=120)
        self.assertEqual(p.returncode, status, p.stderr)
        self.assertEqual(p.stderr, "")
        return p

    def test_flags(self):
        for flags in (["-I"], ["-S"], ["-E"], ["-sIu"], ["-X", "utf8", "-E"]):
            for status in (0, 3):
                with self.subTest(flags=flags, status=status):
                    self.record([PY] + flags + [os.path.join(TARGETS, "launch_calls.py"), CALLS, 0,
                                                status], status)
                    self.assert_calls([[i, 1] for i in range(CALLS)], "first-frame", status)

    def test_command_and_module(self):
        code = "import sys; sys.path.insert(0, %r); from wt import funcs\n" \
               "for i in range(%d): funcs.add(i, 1)\nsys.exit(3)" % (TARGETS, CALLS)
        self.record([PY, "-I", "-S", "-c", code], 3)
        self.assert_calls([[i, 1] for i in range(CALLS)], "first-frame", 3)
        os.remove(self.out)
        self.record([PY, "-E", "-m", "launch_calls", CALLS, 0, 3], 3)   # found in the cwd
        self.assert_calls([[i, 1] for i in range(CALLS)], "first-frame", 3)

    def test_shebang(self):
        script = os.path.join(self.tmp, "tool")
        with open(script, "w") as f:
            f.write("#!%s -I\nimport sys\nsys.path.insert(0, %r)\nfrom wt import funcs\n"
                    "for i in range(%d): funcs.add(i, 1)\nsys.exit(3)\n" % (PY, TARGETS, CALLS))
        os.chmod(script, 0o755)
        self.record([script], 3)
        self.assert_calls([[i, 1] for i in range(CALLS)], "first-frame", 3)

    def test_venv_without_system_site_packages(self):
        venv = os.path.join(self.tmp, "venv")
        subprocess.run([PY, "-m", "venv", "--without-pip", venv], check=True, env=target_env())
        with open(os.path.join(venv, "pyvenv.cfg")) as f:
            self.assertIn("include-system-site-packages = false", f.read())
        vpy = os.path.join(venv, "bin", "python")
        for flags, bootstrap in (([], "sitecustomize"), (["-I"], "first-frame")):
            for status in (0, 3):
                with self.subTest(flags=flags, status=status):
                    self.record([vpy] + flags + [os.path.join(TARGETS, "launch_calls.py"), CALLS, 0,
                                                 status], status)
                    self.assert_calls([[i, 1] for i in range(CALLS)], bootstrap, status)

    def test_hidden_in_a_wrapper_attaches_late(self):
        """sh execs python -I: nothing predicts it, the sitecustomize never
        runs; after --timeout peeka-rec attaches to its child and says that
        earlier calls are missing."""
        go = os.path.join(self.tmp, "go")
        p = rec_popen(self, ["-q", "--timeout", "1", "-o", self.out, "watch", "wt.funcs.add", "--",
                       "/bin/sh", "-c", 'exec "$0" -I "$@"', PY,
                       os.path.join(TARGETS, "launch_calls.py"), 2, CALLS, 3, go],
                      stderr=subprocess.PIPE)
        line = p.stderr.readline()
        self.assertIn("attached to it instead", line)
        open(go, "w").close()
        self.assertEqual(p.wait(60), 3)
        self.assertEqual(p.stderr.read(), "")
        p.stderr.close()
        self.assert_calls([[1000 + i, 1] for i in range(CALLS)], "late-attach", 3)


class Unrecorded(LaunchBase):
    """When the agent cannot be loaded at all, the program runs to its end
    anyway, peeka-rec says why in one line and exits with its status."""

    def assert_ran_unrecorded(self, p, words, status=3):
        self.assertEqual(p.returncode, status, p.stderr)
        lines = p.stderr.splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertTrue(lines[0].startswith("peeka-rec: "), p.stderr)
        self.assertIn(words, lines[0])
        self.assert_no_archive()

    def test_ptrace_refused(self):
        go = os.path.join(self.tmp, "go")
        open(go, "w").close()
        args = [str(a) for a in (PY, os.path.join(TARGETS, "no_ptrace.py"), REC, "-q", "-o",
                                 self.out, "watch", "wt.funcs.add", "--", PY, "-I",
                                 os.path.join(TARGETS, "launch_calls.py"), CALLS, CALLS, 3, go)]
        p = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=TARGETS,
                           env=tool_env(target_env(), True))
        self.assert_ran_unrecorded(p, "ptrace")
        self.assertIn("runs unrecorded", p.stderr)
        with open(go + ".done") as f:
            self.assertEqual(f.read(), "%d %d\n" % (CALLS, CALLS))

    def test_no_agent_for_this_python(self):
        prefix = os.path.join(self.tmp, "prefix")
        os.makedirs(os.path.join(prefix, "bin"))
        shutil.copy(REC, os.path.join(prefix, "bin", "peeka-rec"))
        agents = os.path.join(BUILD, "lib", "peeka", "agent")
        tag = "cp%d%d" % TARGET_VERSION
        for other in os.listdir(agents):
            if other != tag:
                shutil.copytree(os.path.join(agents, other),
                                os.path.join(prefix, "lib", "peeka", "agent", other))
        go = os.path.join(self.tmp, "go")
        open(go, "w").close()
        for flags in ([], ["-I"]):
            with self.subTest(flags=flags):
                p = subprocess.run([os.path.join(prefix, "bin", "peeka-rec"), "-q", "-o", self.out,
                                    "watch", "wt.funcs.add", "--", PY] + flags +
                                   [os.path.join(TARGETS, "launch_calls.py"), str(CALLS), str(CALLS),
                                    "3", go],
                                   capture_output=True, text=True, timeout=120, cwd=TARGETS,
                                   env=tool_env(target_env(), True))
                self.assert_ran_unrecorded(p, "no agent for Python")
                with open(go + ".done") as f:
                    self.assertEqual(f.read(), "%d %d\n" % (CALLS, CALLS))
                os.remove(go + ".done")

    def test_program_exits_before_the_agent(self):
        """Python itself refuses its command line, before it initialises."""
        for flags in (["-S"], []):
            with self.subTest(flags=flags):
                p = rec("-q", "-o", self.out, "watch", "wt.funcs.add", "--", PY, *flags,
                        "--no-such-option", timeout=120)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn("no-such-option", p.stderr)
                self.assertEqual([l for l in p.stderr.splitlines() if l.startswith("peeka-rec")],
                                 ["peeka-rec: the program exited before the agent was loaded: "
                                  "nothing recorded"])
                self.assert_no_archive()


class Signals(LaunchBase):
    """SIGTERM, SIGINT, SIGHUP sent to peeka-rec are the program's: passed
    on (a second one too), recorded until it exits, its status returned."""

    def start(self, limit, status, flags=()):
        p = rec_popen(self, ["-q", "-o", self.out, "watch", "wt.funcs.add", "--", PY] + list(flags) +
                      [os.path.join(TARGETS, "launch_signals.py"), CALLS, limit, status],
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(p.stdout.readline(), "ready\n")
        return p

    def finish(self, p, status):
        self.assertEqual(p.wait(60), status)
        self.assertEqual(p.stderr.read(), "")
        p.stdout.close()
        p.stderr.close()

    def test_each_signal_reaches_the_program(self):
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            with self.subTest(sig=sig):
                p = self.start(1, 5)
                p.send_signal(sig)
                self.assertEqual(p.stdout.readline(), "got %d 1\n" % sig)
                self.finish(p, 5)
                self.assert_calls([[i, 1] for i in range(CALLS)] + [[101, 1]], "sitecustomize", 5)

    def test_second_signal_too(self):
        """Also with python -I: the program was followed to its first frame."""
        p = self.start(2, 9, ["-I"])
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.stdout.readline(), "got %d 1\n" % signal.SIGTERM)
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.stdout.readline(), "got %d 2\n" % signal.SIGTERM)
        self.finish(p, 9)
        self.assert_calls([[i, 1] for i in range(CALLS)] + [[101, 1], [102, 1]], "first-frame", 9)

    def test_killed_by_the_signal(self):
        """No handler: the program dies of SIGTERM, peeka-rec exits 128+15."""
        p = self.start(0, 0)
        p.send_signal(signal.SIGTERM)
        self.finish(p, 128 + signal.SIGTERM)
        _, recs, summary, _ = read_archive(self.out)
        self.assertEqual(summary["target_exit"], 128 + signal.SIGTERM)
        self.assertEqual(summary["records"], len(recs))


class Terminal(LaunchBase):
    """Ctrl-C on peeka-rec's terminal reaches the program once: the tty sent
    it to the whole foreground process group, the program included."""

    def read_until(self, fd, text, seen):
        end = time.monotonic() + 60
        while text not in seen[0]:
            self.assertLess(time.monotonic(), end, "never saw %r in %r" % (text, seen[0]))
            r, _, _ = select.select([fd], [], [], 1)
            if r:
                try:
                    seen[0] += os.read(fd, 4096).decode(errors="replace")
                except OSError:   # EIO: every process of the terminal is gone
                    break

    def test_ctrl_c_not_doubled(self):
        args = [REC, "-q", "-o", self.out, "watch", "wt.funcs.add", "--", PY,
                os.path.join(TARGETS, "launch_signals.py"), CALLS, 2, 4]
        env = tool_env(target_env(), True)
        pid, fd = pty.fork()
        if pid == 0:   # a session of its own, the pty its controlling terminal
            os.chdir(TARGETS)
            os.execve(REC, [str(a) for a in args], env)
        self.addCleanup(os.close, fd)
        seen = [""]
        self.read_until(fd, "ready", seen)
        os.write(fd, b"\x03")
        self.read_until(fd, "got %d 1" % signal.SIGINT, seen)
        os.kill(pid, signal.SIGTERM)   # from a process: passed on
        self.read_until(fd, "got %d 2" % signal.SIGTERM, seen)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 4, seen[0])
        self.assertNotIn("got %d 2" % signal.SIGINT, seen[0])
        self.assert_calls([[i, 1] for i in range(CALLS)] + [[101, 1], [102, 1]], "sitecustomize", 4)


class ClosedStdout(LaunchBase):
    """-o - into a reader that reads one line and goes away ends the
    recording cleanly, silently."""

    def test_attach_mode(self):
        t = Target("wt_loop.py")
        try:
            t.wait_for("ready")
            threads = t.threads()
            p = rec_popen(self, ["-p", t.pid, "-o", "-", "watch", "wt.funcs.add"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            self.assertEqual(json.loads(p.stdout.readline())["func_name"], "wt.funcs.add")
            p.stdout.close()
            self.assertEqual(p.wait(60), 0)
            self.assertEqual(p.stderr.read(), "")
            p.stderr.close()
            self.assertIsNone(t.proc.poll(), "the target died")
            end = time.monotonic() + 5   # the agent's thread is on its way out
            while time.monotonic() < end and (agent_threads(t.pid) or t.threads() != threads):
                time.sleep(0.05)
            self.assertEqual(agent_threads(t.pid), [])
            self.assertEqual(t.threads(), threads)
            os.kill(t.pid, signal.SIGUSR1)
            t.wait_for("IDENTITY")
            self.assertIn("IDENTITY OK", t.output())
        finally:
            t.stop()

    def test_launch_mode(self):
        go = os.path.join(self.tmp, "go")
        p = rec_popen(self, ["-o", "-", "watch", "wt.funcs.add", "--", PY,
                       os.path.join(TARGETS, "launch_calls.py"), CALLS, CALLS, 3, go],
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(json.loads(p.stdout.readline())["params"], [0, 1])
        p.stdout.close()
        open(go, "w").close()
        self.assertEqual(p.wait(60), 3)
        self.assertEqual(p.stderr.read(), "")
        p.stderr.close()
        with open(go + ".done") as f:
            self.assertEqual(f.read(), "%d %d\n" % (CALLS, CALLS))


if __name__ == "__main__":
    unittest.main()
