"""--follow-forks and children that exec the same Python during the
recording: a multiprocessing pool with the forkserver or the spawn start
method, created after the recording started (attach mode and launch mode,
each method).  The server, the spawn workers and the resource tracker are fresh
interpreters that peeka-rec's scan attaches, while multiprocessing waits
for it; the forkserver's workers then come through the agent they
inherit.  Exact counts per worker pid; afterwards no agent thread is left
in the server, which goes on serving and exits with the program."""
import os
import signal
import subprocess
import tempfile
import time
import unittest

from peeka_testlib import (PY, REC, TARGETS, Target, agent_threads, children, dead, pid_func_counts,
                           probes_in, read_archive, target_env, tool_env, wait_until)

PER_INTERPRETER = True
WORK = "ff.funcs.work"
N = 40


def parse_round(line):
    """{worker pid: items}, the workers' parents, the server's pid and what
    of peeka is in place, from "round N pids=.. parents=.. server=S peeka=K"."""
    fields = dict(kv.split("=", 1) for kv in line.split()[2:])
    pids = {int(a): int(b) for a, b in (kv.split(":") for kv in fields["pids"].split(","))}
    parents = [int(p) for p in fields["parents"].split(",")]
    return pids, parents, int(fields["server"]), int(fields["peeka"])


class LatePool(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def check_archive(self, out, target, method, line, peeka_in_place):
        workers, parents, server, peeka = parse_round(line)
        self.assertEqual(sum(workers.values()), N)
        self.assertEqual(peeka, peeka_in_place)
        session, records, summary, _ = read_archive(out)
        self.assertEqual(pid_func_counts(records), {(w, WORK): n for w, n in workers.items()})
        self.assertEqual(summary["records"], N)
        procs = {p["pid"]: p["parent"] for p in summary["processes"]}
        self.assertIsNone(procs[target])
        spawner = server if method == "forkserver" else target
        self.assertEqual(parents, [spawner])
        for w in workers:
            self.assertEqual(procs[w], spawner)
        if method == "forkserver":
            self.assertEqual(procs[server], target)
        # the resource tracker (3.8+) is another child running the same Python
        self.assertTrue(all(procs[p] in procs for p in procs if procs[p] is not None))
        return server

    def attached(self, method):
        t = Target("ff_pool.py", method, "late")
        try:
            t.wait_for("ready")
            out = os.path.join(self.tmp.name, "a.tar.zst")
            p = subprocess.Popen([REC, "-p", str(t.pid), "--follow-forks", "-o", out, "watch", WORK],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=tool_env(target_env(), False), cwd=TARGETS)
            wait_until(lambda: probes_in(out) or p.poll() is not None, "the probes in", 60)
            os.kill(t.pid, signal.SIGUSR1)
            t.wait_for("round 1 ", timeout=60)
            p.send_signal(signal.SIGINT)
            _, err = p.communicate(timeout=60)
            self.assertEqual((p.returncode, err), (0, ""))
            line = [l for l in t.output().splitlines() if l.startswith("round 1 ")][0]
            # multiprocessing.util is imported already: wrapped at once, no import hook
            server = self.check_archive(out, t.pid, method, line, 1)
            self.after_recording(t, server)
        finally:
            t.stop()

    def after_recording(self, t, server):
        """Nothing of peeka runs on: the server has no agent thread, serves an
        unrecorded round and exits with the program."""
        if server:
            self.assertEqual(agent_threads(server), [])
        os.kill(t.pid, signal.SIGUSR1)
        t.wait_for("round 2 ", timeout=60)
        line = [l for l in t.output().splitlines() if l.startswith("round 2 ")][0]
        self.assertEqual(parse_round(line)[3], 0)   # wrapper and import hook gone
        t.proc.send_signal(signal.SIGTERM)
        t.proc.wait(10)
        if server:
            wait_until(lambda: dead(server), "the forkserver exits with the program", 10)

    def test_failed_spawn_raises_its_own_error(self):
        """The spawnv_passfds wrapper passes the original's exception on."""
        out = os.path.join(self.tmp.name, "e.tar.zst")
        p = subprocess.run([REC, "-q", "--follow-forks", "-o", out, "watch", WORK, "--",
                            PY, os.path.join(TARGETS, "ff_spawn_error.py")],
                           capture_output=True, text=True, timeout=60, cwd=TARGETS,
                           env=tool_env(target_env(), True))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "wrapped=1 raised ValueError\n")
        _, records, summary, _ = read_archive(out)
        self.assertEqual(pid_func_counts(records), {(p_, WORK): 1 for p_ in {r["pid"] for r in records}})
        self.assertEqual(summary["records"], 1)

    def test_forkserver_attached(self):
        self.attached("forkserver")

    def test_spawn_attached(self):
        self.attached("spawn")

    def test_forkserver_launched(self):
        """Launch mode: the program starts its forkserver while recorded."""
        self.launched("forkserver")

    def test_spawn_launched(self):
        self.launched("spawn")

    def launched(self, method):
        out = os.path.join(self.tmp.name, "l.tar.zst")
        p = subprocess.Popen([REC, "-q", "--follow-forks", "-o", out, "watch", WORK, "--",
                              PY, os.path.join(TARGETS, "ff_pool.py"), method, "late"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=tool_env(target_env(), True), cwd=TARGETS)
        try:
            self.assertEqual(p.stdout.readline(), "ready\n")
            kids = children(p.pid)
            self.assertEqual(len(kids), 1)
            wait_until(lambda: probes_in(out), "the probes in", 60)
            os.kill(kids[0], signal.SIGUSR1)
            line = p.stdout.readline()
            self.assertTrue(line.startswith("round 1 "), line)
            p.send_signal(signal.SIGINT)   # passed on to the program
            _, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, err)
            # the agent came before multiprocessing: wrapped at its import, by the
            # import hook, which stays for the recording
            self.check_archive(out, kids[0], method, line, 2)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()

if __name__ == "__main__":
    unittest.main()
