"""Detached sessions (peeka-rec --detach / --attach / --stop / --is-detached /
--list-sessions), end to end: the holder is a real peeka-rec, the target a
real interpreter, the archive read back as a user would."""
import os
import pty
import signal
import subprocess
import tempfile
import time
import unittest

from peeka_testlib import (NOBODY, PY, REC, RUNTIME_DIR, TARGETS, StepBurstCase, agent_threads, dead,
                           read_archive, rec, sessions, target_env, tool_env, wait_until)

PER_INTERPRETER = True
SESSIONS = os.path.join(RUNTIME_DIR, "peeka")
NOBODY_PY = "/usr/bin/python3"   # the interpreters under test may live where nobody cannot go


def session_files():
    return sorted(os.listdir(SESSIONS)) if os.path.isdir(SESSIONS) else []


def text(path):
    with open(path) as f:
        return f.read()


def params(records):
    return [r["params"][0] for r in records]


class SessionCase(StepBurstCase):
    """Every case starts its own session; none outlives its case."""

    def tearDown(self):
        for key, s in sessions().items():   # a failed case must not leave a holder behind
            os.kill(s["pid"], signal.SIGKILL)
            wait_until(lambda: dead(s["pid"]), "the holder died")
        sessions()   # and its files go
        super().tearDown()

    def detach(self, key, *extra):
        p = rec("-p", self.t.pid, "--detach=" + key, "-o", self.out, *extra, "watch", "ses.work.step")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        return sessions()[key]

    def stop(self, key):
        p = rec("--attach=" + key, "--stop")
        self.assertEqual(p.returncode, 0, p.stderr)
        return read_archive(self.out)


class Detached(SessionCase):
    def test_detach_record_stop(self):
        info = self.detach("one", "--no-limit")
        # the command returned with the probes in, and the holder records on
        self.assertTrue(os.path.exists(self.out + ".partial"))
        self.assertEqual(rec("--is-detached=one").returncode, 0)
        self.assertEqual(rec("--is_detached=one").returncode, 0)
        holder = info["pid"]
        self.assertNotEqual(os.getsid(holder), os.getsid(0))
        self.assertEqual(os.getsid(holder), holder)   # its own session, no terminal
        for fd in (0, 1, 2):
            self.assertEqual(os.readlink("/proc/%d/fd/%d" % (holder, fd)), "/dev/null")
        os.kill(holder, signal.SIGHUP)   # a hangup does not end it
        calls = self.burst()
        wait_until(lambda: sessions()["one"]["records"] == self.N, "records counted")
        info = sessions()["one"]
        self.assertEqual((info["target_pid"], info["mode"], info["probes"], info["output"]),
                         (self.t.pid, "attach", ["watch ses.work.step"], self.out))
        session, records, summary, _ = self.stop("one")
        self.assertEqual(params(records), calls)
        self.assertEqual((summary["reason"], summary["records"], summary["drops"]), ("stopped", self.N, 0))
        self.assertEqual(summary["policy"]["name"], "stream")
        self.assertEqual(rec("--is-detached=one").returncode, 2)
        self.assertEqual(session_files(), [])
        wait_until(lambda: not agent_threads(self.t.pid), "the agent detached")

    def test_is_detached_codes(self):
        self.assertEqual(rec("--is-detached=nothing-here").returncode, 2)
        p = rec("--is-detached=no/slash")
        self.assertEqual(p.returncode, 1)
        self.assertIn("session key", p.stderr)
        self.assertEqual(rec("--is-detached=k", "--json").returncode, 1)

    def test_session_dir_not_private(self):
        os.makedirs(SESSIONS, exist_ok=True)
        os.chmod(SESSIONS, 0o755)
        try:
            p = rec("--is-detached=k")
            self.assertEqual(p.returncode, 1)
            self.assertIn("is not private", p.stderr)
            p = rec("-p", self.t.pid, "--detach=k", "-d", "5", "-o", self.out, "watch", "ses.work.step")
            self.assertEqual(p.returncode, 22, p.stderr)
            self.assertEqual(agent_threads(self.t.pid), [])
        finally:
            os.chmod(SESSIONS, 0o700)

    def test_attach_waits_for_the_duration(self):
        # Perfetto's third example: a time limit, re-attach, wait for the end
        self.detach("timed", "-d", "4")
        calls = self.burst()
        wait_until(lambda: sessions()["timed"]["records"] == self.N, "records counted")
        p = rec("--attach=timed")
        self.assertEqual(p.returncode, 0, p.stderr)
        _, records, summary, _ = read_archive(self.out)
        self.assertEqual(params(records), calls)
        self.assertEqual(summary["reason"], "duration")
        self.assertEqual(session_files(), [])

    def test_attached_client_ctrl_c_stops(self):
        self.detach("ctlc", "--no-limit")
        calls = self.burst()
        c = subprocess.Popen([REC, "--attach=ctlc"], stderr=subprocess.PIPE, text=True,
                             env=tool_env(target_env(), False))
        time.sleep(0.3)   # attached or not yet: a stop asked before is sent once attached
        c.send_signal(signal.SIGINT)
        self.assertEqual(c.wait(60), 0, c.stderr.read())
        c.stderr.close()
        _, records, summary, _ = read_archive(self.out)
        self.assertEqual(params(records), calls)
        self.assertEqual(summary["reason"], "stopped")

    def test_attached_progress_on_a_terminal(self):
        self.detach("tty", "-d", "1h")
        self.burst()
        wait_until(lambda: sessions()["tty"]["records"] == self.N, "records counted")
        master, slave = pty.openpty()
        c = subprocess.Popen([REC, "--attach=tty"], stderr=slave, env=tool_env(target_env(), False))
        os.close(slave)
        seen = b""
        while b"%d observations" % self.N not in seen:
            seen += os.read(master, 4096)
        self.assertRegex(seen.decode(), r"peeka-rec: [0-9.]+s/3600s  %d observations  [0-9]+ KiB written"
                         % self.N)
        c.send_signal(signal.SIGTERM)   # stops the session, as Ctrl-C does
        self.assertEqual(c.wait(60), 0)
        os.close(master)
        self.assertEqual(read_archive(self.out)[2]["reason"], "stopped")

    def test_no_limit_is_required(self):
        p = rec("-p", self.t.pid, "--detach=x", "-o", self.out, "watch", "ses.work.step")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--no-limit", p.stderr)
        p = rec("-p", self.t.pid, "--detach=x", "-o", self.out, "watch", "ses.work.step", "-n", "5",
                "watch", "ses.work.nope")
        self.assertEqual(p.returncode, 2)   # one probe without -n is no bound
        self.assertEqual(agent_threads(self.t.pid), [])
        self.assertFalse(os.path.exists(self.out + ".partial"))
        self.assertEqual(session_files(), [])

    def test_key_in_use_and_attach_usage(self):
        self.detach("busy", "-d", "1h")
        p = rec("-p", self.t.pid, "--detach=busy", "-d", "5", "-o", self.out + "2", "watch",
                "ses.work.step")
        self.assertEqual(p.returncode, 21, p.stderr)
        self.assertIn("already running", p.stderr)
        p = rec("--attach=busy", "-q")
        self.assertEqual(p.returncode, 2)
        self.assertIn("'-q' cannot be used with --attach", p.stderr)
        self.assertEqual(rec("--attach=nothing").returncode, 20)
        self.assertEqual(rec("--attach=nothing", "--stop").returncode, 20)
        self.stop("busy")

    @unittest.skipUnless(os.access(NOBODY_PY, os.X_OK), "no system python3 for user nobody")
    def test_another_user_is_refused(self):
        self.detach("mine", "--no-limit")
        sock = os.path.join(SESSIONS, "mine.sock")
        # make the socket reachable by nobody: the holder's own check must refuse
        os.chmod(RUNTIME_DIR, 0o711)
        os.chmod(SESSIONS, 0o711)
        os.chmod(sock, 0o777)
        try:
            code = ("import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\n"
                    "s.sendall(b'stop\\n')\nprint(s.makefile().readline().strip())\n")
            p = subprocess.run([NOBODY_PY, "-c", code, sock], capture_output=True, text=True, timeout=30,
                               preexec_fn=lambda: os.setuid(NOBODY))
            self.assertEqual(p.stdout.strip(), "refused uid %d may not use a session of uid 0" % NOBODY,
                             p.stderr)
            # the same user's client finds its own (empty) session directory instead
            env = tool_env(target_env(), False)
            p = subprocess.run([REC, "--attach=mine", "--stop"], capture_output=True, text=True,
                               timeout=30, env=env, cwd="/", preexec_fn=lambda: os.setuid(NOBODY))
            self.assertEqual(p.returncode, 20, p.stderr)
        finally:
            os.chmod(sock, 0o700)
            os.chmod(SESSIONS, 0o700)
            os.chmod(RUNTIME_DIR, 0o700)
        self.assertEqual(rec("--is-detached=mine").returncode, 0)   # still running
        calls = self.burst()
        _, records, summary, _ = self.stop("mine")
        self.assertEqual(params(records), calls)

    def test_holder_killed(self):
        info = self.detach("doomed", "--no-limit", "--flush-period", "100ms")
        calls = self.burst()
        wait_until(lambda: len(read_archive(self.out + ".partial")[1]) == self.N, "records flushed")
        os.kill(info["pid"], signal.SIGKILL)
        # the agent's own rule: its holder gone, it detaches
        wait_until(lambda: not agent_threads(self.t.pid), "the agent detached", timeout=5)
        # the agent may see its socket close before the dying holder has
        # closed its lock: --is-detached would still find the session held
        wait_until(lambda: dead(info["pid"]), "the holder died")
        self.assertEqual(session_files(), ["doomed.lock", "doomed.sock"])   # stale until looked at
        self.assertEqual(rec("--is-detached=doomed").returncode, 2)
        self.assertEqual(session_files(), [])
        session, records, summary, _ = read_archive(self.out + ".partial")
        self.assertIsNotNone(session)
        self.assertIsNone(summary)
        self.assertEqual(params(records), calls)
        self.burst()   # the target goes on, unobserved
        self.assertEqual(self.t.proc.poll(), None)

    def test_stale_entry_cleaned_by_list_and_reused(self):
        info = self.detach("stale", "--no-limit")
        os.kill(info["pid"], signal.SIGKILL)
        wait_until(lambda: dead(info["pid"]), "the holder died")
        self.assertNotIn("stale", sessions())
        self.assertEqual(session_files(), [])
        wait_until(lambda: not agent_threads(self.t.pid), "the agent detached")
        self.detach("stale", "--no-limit")   # the key is free again
        calls = self.burst()
        _, records, _, _ = self.stop("stale")
        self.assertEqual(params(records), calls)

    def test_list_text(self):
        self.detach("listed", "-d", "1h")
        p = rec("--list-sessions")
        self.assertEqual(p.returncode, 0, p.stderr)
        head, row = p.stdout.splitlines()
        self.assertEqual(head.split(), ["KEY", "PID", "TARGET", "STARTED", "RECORDS", "PROBES", "OUTPUT"])
        self.assertTrue(row.startswith("listed "))
        self.assertIn("watch ses.work.step", row)
        self.assertTrue(row.endswith(self.out))
        self.stop("listed")
        self.assertEqual(rec("--list-sessions").stdout, "no detached sessions\n")
        self.assertEqual(rec("--list-sessions", "--json").stdout, "[]\n")


class DetachedRing(SessionCase):
    """Perfetto's second example: a detached ring, saved when stopped."""
    N = 400   # about 380 bytes a record: two bursts overflow 64K

    def test_ring_session_snapshot_and_stop(self):
        info = self.detach("ring", "--no-limit", "--ring", "64K")
        calls = self.burst()
        calls += self.burst()
        wait_until(lambda: sessions()["ring"]["records"] == 2 * self.N, "records counted")
        self.assertEqual(sessions()["ring"]["policy"], "ring")
        os.kill(info["pid"], signal.SIGUSR1)
        snap = os.path.join(self.tmp.name, "s.snapshot-1.tar.zst")
        wait_until(lambda: os.path.exists(snap), "the snapshot")
        _, srecords, ssummary, _ = read_archive(snap)
        self.assertEqual(params(srecords), calls[-len(srecords):])
        self.assertEqual(ssummary["reason"], "snapshot")
        _, records, summary, _ = self.stop("ring")
        kept = len(records)
        self.assertLess(kept, 2 * self.N)
        self.assertEqual(params(records), calls[-kept:])
        self.assertEqual(params(srecords), params(records))   # nothing came in between
        pol = summary["policy"]
        self.assertEqual((summary["reason"], summary["records"], pol["records_seen"],
                          pol["records_overwritten"], pol["snapshots"]),
                         ("stopped", kept, 2 * self.N, 2 * self.N - kept, 1))


class DetachedLaunch(unittest.TestCase):
    def tearDown(self):
        for s in sessions().values():   # a failed case leaves neither holder nor program
            for pid in (s["target_pid"], s["pid"]):
                os.kill(pid, signal.SIGKILL)
            wait_until(lambda: dead(s["pid"]), "the holder died")
        sessions()

    def test_launch_then_attach_until_the_program_ends(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "l-{pid}.tar.zst")   # known once the program runs
            # the program keeps the stdout and stderr it was started with: files here
            log = os.path.join(tmp, "prog.out")
            with open(log, "w") as f:
                rc = subprocess.run([REC, "--detach=prog", "--no-limit", "-o", out, "watch",
                                     "ses.work.step", "--", PY, os.path.join(TARGETS, "ses_calls.py"),
                                     "100", "--exit-after", "3"], stdout=f, stderr=f, timeout=60,
                                    env=tool_env(target_env(), True), cwd=TARGETS).returncode
            with open(log) as f:
                self.assertEqual(rc, 0, f.read())
            info = sessions()["prog"]
            self.assertEqual((info["mode"], info["attached"]), ("launch", 0))
            out = out.replace("{pid}", str(info["target_pid"]))
            self.assertEqual(info["output"], out)
            a = subprocess.Popen([REC, "--attach=prog"], stderr=subprocess.PIPE, text=True,
                                 env=tool_env(target_env(), False))
            wait_until(lambda: sessions()["prog"]["attached"] == 1, "the client attached")
            for k in range(1, 4):   # the program's three bursts, then its exit(3)
                os.kill(info["target_pid"], signal.SIGUSR2)
                wait_until(lambda: "burst %d done" % k in text(log), "burst %d" % k)
            self.assertEqual(a.wait(60), 3, a.stderr.read())   # the program's status
            a.stderr.close()
            _, records, summary, _ = read_archive(out)
            self.assertEqual(params(records), list(range(300)))
            self.assertEqual((summary["reason"], summary["target_exit"]), ("target-exited", 3))
            self.assertEqual(session_files(), [])


if __name__ == "__main__":
    unittest.main()
