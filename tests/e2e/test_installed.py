"""The pre-installed agent (python/peeka_agent) and peeka-rec --uninstall,
as an unprivileged user (uid 65534, no capabilities) with a private
XDG_RUNTIME_DIR: a process that made itself non-dumpable, so that nothing
can ptrace it, is recorded through its installed agent by a peeka-rec that
a seccomp filter forbids ptrace(2) altogether; exact call counts; the
application's own handler of the signal still runs; --uninstall removes the
agent and what a failed detach left behind.

/root is 0700 on the test machine: an interpreter under /root/.pyenv is
only reachable with CAP_DAC_READ_SEARCH, which the target then gets (and
nothing else: it confers no ptrace right, and the target gives up even
the possibility by PR_SET_DUMPABLE 0).  The recorder never has any
capability."""
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from peeka_testlib import (AS_NOBODY, BUILD, NOBODY, NO_CAPS, PY, REC, TARGETS, Target, agent_threads,
                           probes_in, read_archive, rec, target_env)

PER_INTERPRETER = True
PYAGENT = os.path.join(BUILD, "lib", "peeka", "python")
WORK, OTHER = 7, 3   # one round of installed_app.py
F = "inst.funcs."
READ_SEARCH = ["--inh-caps=-all,+dac_read_search", "--ambient-caps=+dac_read_search"]


def target_caps():
    """What the unprivileged target needs to run the interpreter under test."""
    ok = subprocess.run(AS_NOBODY + NO_CAPS + [PY, "-c", "pass"], capture_output=True).returncode == 0
    return NO_CAPS if ok else READ_SEARCH


def wait_agent_gone(pid):
    """The agent thread ends after its last try to free the probes: until
    then a hook leaving user code still lets them be freed normally."""
    end = time.monotonic() + 30
    while agent_threads(pid) and time.monotonic() < end:
        time.sleep(0.02)
    if agent_threads(pid):
        raise AssertionError("the agent thread of %d did not end" % pid)


class AsNobody(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.getuid() != 0 or not shutil.which("setpriv"):
            raise unittest.SkipTest("needs root (to become uid %d) and setpriv" % NOBODY)
        cls.caps = target_caps()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="peeka-inst-")
        self.run_dir = os.path.join(self.tmp, "run")     # the user's private XDG_RUNTIME_DIR
        self.out_dir = os.path.join(self.tmp, "out")
        for d in (self.run_dir, self.out_dir):
            os.mkdir(d, 0o700)
            os.chown(d, NOBODY, NOBODY)
        os.chmod(self.tmp, 0o755)
        self.env = {"XDG_RUNTIME_DIR": self.run_dir, "PYTHONPATH": TARGETS + os.pathsep + PYAGENT}
        self.procs = []
        self.rounds = 0

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.t.stop()
        shutil.rmtree(self.tmp, True)

    def start(self, mode, *args):
        """installed_app.py as uid 65534."""
        self.t = Target("installed_app.py", mode, *args, env=self.env, prefix=AS_NOBODY + self.caps)
        self.t.wait_for("ready pid=")
        return self.t

    def recorder(self, *args, ptrace_forbidden=True):
        """peeka-rec as uid 65534 without capabilities; under a seccomp filter
        that makes every ptrace(2) fail with EPERM when ptrace_forbidden."""
        wrap = [shutil.which("python3"), os.path.join(TARGETS, "no_ptrace.py")] if ptrace_forbidden else []
        return AS_NOBODY + NO_CAPS + wrap + [REC] + [str(a) for a in args]

    def run_rec(self, *args, ptrace_forbidden=True):
        return subprocess.run(self.recorder(*args, ptrace_forbidden=ptrace_forbidden),
                              capture_output=True, text=True, env=target_env(self.env), timeout=60, cwd=TARGETS)

    def record_rounds(self, rounds, *extra):
        """Records `rounds` rounds of the target through its installed agent;
        (returncode, stderr, session, records)."""
        out = os.path.join(self.out_dir, "rec.tar.zst")
        p = subprocess.Popen(self.recorder("-p", self.t.pid, "-o", out, *extra, "watch", F + "work",
                                           "watch", F + "other"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=target_env(self.env),
                             cwd=TARGETS)
        self.procs.append(p)
        end = time.monotonic() + 30
        while not probes_in(out) and p.poll() is None and time.monotonic() < end:
            time.sleep(0.02)
        self.assertIsNone(p.poll(), "peeka-rec ended before the probes were in: %s" % p.stderr.read()
                          if p.poll() is not None else "")
        for _ in range(rounds):
            self.rounds += 1
            os.kill(self.t.pid, signal.SIGUSR1)
            self.t.wait_for("round %d " % self.rounds, timeout=20)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
        session, records, _, _ = read_archive(out)
        return p.returncode, err, session, records

    def counts(self, records):
        c = {}
        for r in records:
            c[r["func_name"]] = c.get(r["func_name"], 0) + 1
        return c

    def test_non_dumpable_recorded_without_ptrace(self):
        t = self.start("install,nodump,ownhandler")
        # install() cost: no thread, no descriptor left open
        self.assertIn("installed=True threads=1 fds_added=0", t.output())
        self.assertEqual(len(os.listdir("/proc/%d/task" % t.pid)), 1)
        # ptrace really is impossible here: the route that needs it is refused
        p = self.run_rec("-p", t.pid, "--via", "ptrace", "-d", "1", "-o",
                         os.path.join(self.out_dir, "no.tar.zst"), "watch", F + "work",
                         ptrace_forbidden=False)
        self.assertEqual(p.returncode, 13, p.stderr)
        rc, err, session, records = self.record_rounds(2)
        self.assertEqual(rc, 0, err)
        self.assertEqual(session["attach"]["route"], "installed")
        self.assertEqual(self.counts(records), {F + "work": 2 * WORK, F + "other": 2 * OTHER})
        # a second recording, forced onto the route
        rc, err, session, records = self.record_rounds(1, "--attach-installed")
        self.assertEqual(rc, 0, err)
        self.assertEqual(session["attach"]["route"], "installed")
        self.assertEqual(self.counts(records), {F + "work": WORK, F + "other": OTHER})
        # the application's own SIGUSR2 handler still gets its signals
        self.assertNotIn("app SIGUSR2", t.output())
        os.kill(t.pid, signal.SIGUSR2)
        t.wait_for("app SIGUSR2")
        # nothing of peeka stays behind: no thread, no rendezvous, no socket
        os.kill(t.pid, signal.SIGUSR1)
        t.wait_for("round 4 installed=True threads=1")
        self.assertEqual(self.rounds, 3)
        self.assertEqual(sorted(os.listdir(os.path.join(self.run_dir, "peeka"))), ["%d.installed" % t.pid])
        self.assertEqual([d for d in os.listdir(self.run_dir) if d != "peeka"], [])

    def test_attach_installed_without_agent(self):
        t = self.start("nodump")
        p = self.run_rec("-p", t.pid, "--attach-installed", "-d", "1", "-o",
                         os.path.join(self.out_dir, "x.tar.zst"), "watch", F + "work")
        self.assertEqual(p.returncode, 23, p.stderr)
        self.assertIn("process %d has no pre-installed agent" % t.pid, p.stderr)
        self.assertIn("peeka_agent.install()", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.out_dir, "x.tar.zst")))
        self.assertEqual(t.proc.poll(), None)

    def test_untrusted_rendezvous_refused(self):
        """A rendezvous the agent must not trust (another owner, group or
        other bits, a symlink, a socket outside a private directory of its
        uid) is deleted unread and the signal goes to the application's
        handler; nothing connects to the socket it names."""
        import socket
        t = self.start("install,nodump,ownhandler")
        peeka = os.path.join(self.run_dir, "peeka")
        sock_dir = os.path.join(self.tmp, "sock")
        os.mkdir(sock_dir, 0o700)
        os.chown(sock_dir, NOBODY, NOBODY)
        path = os.path.join(sock_dir, "s")
        srv = socket.socket(socket.AF_UNIX)
        srv.bind(path)
        srv.listen(1)
        srv.setblocking(False)
        os.chown(path, NOBODY, NOBODY)
        open_dir = os.path.join(self.tmp, "open")
        os.mkdir(open_dir, 0o755)
        os.chown(open_dir, NOBODY, NOBODY)
        good = "action=record\nsocket=%s\ntoken=%s\n" % (path, "a" * 64)
        rv = os.path.join(peeka, "%d.rendezvous" % t.pid)
        cases = [("mode 0640", good, 0o640, NOBODY, None),
                 ("owned by root", good, 0o600, 0, None),
                 ("a symlink", good, 0o600, NOBODY, "link"),
                 ("socket not in a private directory",
                  good.replace(sock_dir, open_dir), 0o600, NOBODY, None),
                 ("a short token", good.replace("a" * 64, "a" * 10), 0o600, NOBODY, None)]
        for n, (what, text, mode, owner, kind) in enumerate(cases, 1):
            target = os.path.join(self.tmp, "real-rv") if kind == "link" else rv
            with open(target, "w") as f:
                f.write(text)
            os.chmod(target, mode)
            os.chown(target, owner, owner)
            if kind == "link":
                os.symlink(target, rv)
            os.kill(t.pid, signal.SIGUSR2)
            end = time.monotonic() + 20
            while t.output().count("app SIGUSR2") < n and time.monotonic() < end:
                time.sleep(0.02)
            self.assertEqual(t.output().count("app SIGUSR2"), n, what)
            self.assertFalse(os.path.lexists(rv), what + ": left in place")
            with self.assertRaises(BlockingIOError, msg=what):
                srv.accept()
        srv.close()

    def test_registration_in_an_open_directory_ignored(self):
        t = self.start("install,nodump")
        os.chmod(os.path.join(self.run_dir, "peeka"), 0o755)
        p = self.run_rec("-p", t.pid, "--attach-installed", "-d", "1", "-o",
                         os.path.join(self.out_dir, "x.tar.zst"), "watch", F + "work")
        self.assertEqual(p.returncode, 23, p.stderr)

    def test_uninstall_installed_agent(self):
        t = self.start("install,nodump,ownhandler")
        rc, err, _, records = self.record_rounds(1)
        self.assertEqual((rc, len(records)), (0, WORK + OTHER), err)
        p = self.run_rec("--uninstall", t.pid)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "peeka-rec: pid %d: removed the pre-installed agent "
                         "(its SIGUSR2 handler)\n" % t.pid)
        os.kill(t.pid, signal.SIGUSR1)
        t.wait_for("round 2 installed=False threads=1")
        # the application's handler is its own again, peeka's route is gone
        os.kill(t.pid, signal.SIGUSR2)
        t.wait_for("app SIGUSR2")
        self.assertEqual(os.listdir(os.path.join(self.run_dir, "peeka")), [])
        p = self.run_rec("-p", t.pid, "--attach-installed", "-d", "1", "-o",
                         os.path.join(self.out_dir, "x.tar.zst"), "watch", F + "work")
        self.assertEqual(p.returncode, 23, p.stderr)
        self.assertIsNone(t.proc.poll())

    def test_uninstall_ends_an_open_session(self):
        """--uninstall while a recorder records: the session ends there (the
        recorder keeps what it got and exits 6, agent lost), then the agent."""
        t = self.start("install,nodump")
        out = os.path.join(self.out_dir, "open.tar.zst")
        p = subprocess.Popen(self.recorder("-p", t.pid, "-o", out, "watch", F + "work"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=target_env(self.env), cwd=TARGETS)
        self.procs.append(p)
        while not probes_in(out) and p.poll() is None:
            time.sleep(0.02)
        os.kill(t.pid, signal.SIGUSR1)
        t.wait_for("round 1 ")
        u = self.run_rec("--uninstall", t.pid)
        self.assertEqual(u.returncode, 0, u.stderr)
        self.assertEqual(u.stdout, "peeka-rec: pid %d: removed an open session (its recorder gone "
                         "quiet, or still recording); the pre-installed agent (its SIGUSR2 handler)\n"
                         % t.pid)
        _, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 6, err)
        _, records, summary, _ = read_archive(out)
        self.assertEqual(len(records), WORK)
        self.assertEqual(summary["reason"], "agent-lost")
        self.assertEqual(agent_threads(t.pid), [])
        os.kill(t.pid, signal.SIGUSR1)
        t.wait_for("round 2 installed=False threads=1")

    def test_uninstall_leftover_probes(self):
        """A hook stuck in user code (a --repr that blocks) while the recorder
        detaches: the probe and the ring stay allocated; --uninstall frees
        them and the installed agent, in one line."""
        release = os.path.join(self.tmp, "release")
        t = self.start("install,nodump,stuck", release)
        out = os.path.join(self.out_dir, "stuck.tar.zst")
        p = subprocess.Popen(self.recorder("-p", t.pid, "-o", out, "watch", F + "stuck", "-x", "1",
                                           "--repr", "-b"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=target_env(self.env))
        self.procs.append(p)
        while not probes_in(out) and p.poll() is None:
            time.sleep(0.02)
        os.kill(t.pid, signal.SIGUSR1)
        t.wait_for("in repr")
        p.send_signal(signal.SIGINT)           # detaches while the hook is inside __repr__
        _, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err)
        wait_agent_gone(t.pid)
        with open(release, "w"):
            pass
        t.wait_for("round 1 installed=True threads=1")
        u = self.run_rec("--uninstall", t.pid)
        self.assertEqual(u.returncode, 0, u.stderr)
        self.assertEqual(u.stdout, "peeka-rec: pid %d: removed a probe left behind by a hook stuck in "
                         "user code; a ring buffer left behind with them; the pre-installed agent "
                         "(its SIGUSR2 handler)\n" % t.pid)
        os.kill(t.pid, signal.SIGUSR1)
        t.wait_for("round 2 installed=False threads=1")


class UninstallByAttach(unittest.TestCase):
    """No installed agent: --uninstall attaches (ptrace, or PEP 768 on 3.14+)."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="peeka-uninst-")
        self.release = os.path.join(self.tmp, "release")

    def tearDown(self):
        self.t.stop()
        shutil.rmtree(self.tmp, True)

    def test_nothing_to_remove_untouched(self):
        """A process that never loaded the agent is not even attached to."""
        self.t = Target("installed_app.py", "plain")
        self.t.wait_for("ready pid=")
        p = rec("--uninstall", self.t.pid)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "peeka-rec: pid %d: nothing to remove\n" % self.t.pid)
        with open("/proc/%d/maps" % self.t.pid) as f:
            self.assertNotIn("_peeka_agent", f.read())

    def test_leftover_probes(self):
        self.t = Target("installed_app.py", "stuck", self.release)
        self.t.wait_for("ready pid=")
        out = os.path.join(self.tmp, "stuck.tar.zst")
        p = subprocess.Popen([REC, "-p", str(self.t.pid), "-o", out, "watch", F + "stuck", "-x", "1",
                              "--repr", "-b"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=target_env(), cwd=TARGETS)
        while not probes_in(out) and p.poll() is None:
            time.sleep(0.02)
        os.kill(self.t.pid, signal.SIGUSR1)
        self.t.wait_for("in repr")
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err)
        wait_agent_gone(self.t.pid)
        with open(self.release, "w"):
            pass
        self.t.wait_for("round 1 ")
        u = rec("--uninstall", self.t.pid)
        self.assertEqual(u.returncode, 0, u.stderr)
        self.assertEqual(u.stdout, "peeka-rec: pid %d: removed a probe left behind by a hook stuck in "
                         "user code; a ring buffer left behind with them\n" % self.t.pid)
        u = rec("--uninstall", self.t.pid)
        self.assertEqual((u.returncode, u.stdout), (0, "peeka-rec: pid %d: nothing to remove\n" % self.t.pid),
                         u.stderr)
        os.kill(self.t.pid, signal.SIGUSR1)
        self.t.wait_for("round 2 ")


OFF_MAIN = r"""
import os, signal, threading, time
import peeka_agent
seen = []
def mine(signum, frame):
    seen.append(signum)
signal.signal(signal.SIGUSR2, mine)
peeka_agent.install()
t = threading.Thread(target=peeka_agent.uninstall)
t.start()
t.join()
print("installed=%s" % peeka_agent.is_installed())
for _ in range(500):              # the main thread runs bytecode: the handler comes back
    if signal.getsignal(signal.SIGUSR2) is mine:
        break
    time.sleep(0.01)
print("restored=%s" % (signal.getsignal(signal.SIGUSR2) is mine))
os.kill(os.getpid(), signal.SIGUSR2)
time.sleep(0.05)
print("seen=%d" % len(seen))
"""


class UninstallOffMainThread(unittest.TestCase):
    def test_handler_back_from_the_main_thread(self):
        """uninstall() from another thread: is_installed() is False at once,
        and the main thread puts the application's own handler back (a
        pending call), which then gets its signal exactly once."""
        p = subprocess.run([PY, "-c", OFF_MAIN], capture_output=True, text=True, timeout=60,
                           env=target_env({"PYTHONPATH": PYAGENT}))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.split(), ["installed=False", "restored=True", "seen=1"])


if __name__ == "__main__":
    unittest.main()
