"""--follow-forks on real process trees: a real gunicorn (Debian's) with 2
workers, recorded from its master, launched under peeka-rec: every worker's
calls — the two it starts with and a third it forks on SIGTTIN while
recorded — land in one archive, per worker pid exactly as many as that
worker served (each response names the pid that served it); and a
multiprocessing pool with the fork start method.  The gunicorn tests run
twice: as root, and with gunicorn and peeka-rec as uid 65534 without
capabilities (GunicornAsNobody)."""
import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from peeka_testlib import (AS_NOBODY, NOBODY, NO_CAPS, REC, TARGETS, children, probes_in, read_archive,
                           target_env, tool_env)

PER_INTERPRETER = False
SYSTEM_PY = "/usr/bin/python3"


def have_gunicorn():
    return subprocess.run([SYSTEM_PY, "-c", "import flask, gunicorn"], capture_output=True).returncode == 0


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def per_pid(records, func):
    c = {}
    for r in records:
        if r["func_name"] == func:
            c[r["pid"]] = c.get(r["pid"], 0) + 1
    return c


@unittest.skipUnless(have_gunicorn(), "needs Debian's python3-flask and gunicorn (make check installs them)")
class GunicornMaster(unittest.TestCase):
    as_user = []     # the command prefix that runs gunicorn and peeka-rec as another user

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.port = free_port()
        self.served = {}
        self.env = {}

    def run_as(self, cmd):
        return self.as_user + cmd

    def tearDown(self):
        for p in (self.p, getattr(self, "gunicorn", None)):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        self.tmp.cleanup()

    def get(self, n):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            c.request("GET", "/item/%d" % n)
            body = json.loads(c.getresponse().read())
        finally:
            c.close()
        self.served[body["pid"]] = self.served.get(body["pid"], 0) + 1
        return body["pid"]

    def workers(self, n):
        """Until n workers answer; their pids."""
        end = time.monotonic() + 60
        while time.monotonic() < end:
            kids = children(self.master) if self.master else []
            if len(kids) == n:
                seen = set()
                for i in range(60):
                    try:
                        seen.add(self.get(i))
                    except OSError:
                        break
                if seen == set(kids):
                    return sorted(kids)
            time.sleep(0.1)
        raise AssertionError("gunicorn did not get %d workers answering" % n)

    def test_every_worker_recorded(self):
        out = os.path.join(self.tmp.name, "g.tar.zst")
        self.p = subprocess.Popen(self.run_as([REC, "-q", "--follow-forks", "-o", out,
                                               "watch", "flaskapp.views.get_item",
                                               "watch", "gunicorn.workers.sync.SyncWorker.handle",
                                               "--", SYSTEM_PY, "-m", "gunicorn", "-w", "2",
                                               "-b", "127.0.0.1:%d" % self.port, "flaskapp.app:app"]),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=tool_env(target_env(self.env), True), cwd=TARGETS)
        self.master = None
        end = time.monotonic() + 30
        while not self.master and time.monotonic() < end:
            kids = children(self.p.pid)
            self.master = kids[0] if kids else None
            time.sleep(0.05)
        first = self.workers(2)
        for n in range(20):
            self.get(n)
        os.kill(self.master, signal.SIGTTIN)   # a third worker, forked while recorded
        third = [k for k in self.workers(3) if k not in first]
        self.assertEqual(len(third), 1)
        for n in range(30):
            self.get(n)
        self.assertEqual(sorted(self.served), sorted(first + third))
        self.p.send_signal(signal.SIGINT)       # passed on to gunicorn, which stops its workers
        _, err = self.p.communicate(timeout=60)
        self.assertEqual(self.p.returncode, 0, err)
        session, records, summary, _ = read_archive(out)
        self.assertEqual(per_pid(records, "flaskapp.views.get_item"), self.served)
        self.assertEqual(per_pid(records, "gunicorn.workers.sync.SyncWorker.handle"), self.served)
        procs = {p["pid"]: p["parent"] for p in summary["processes"]}
        for w in first + third:
            self.assertEqual(procs[w], self.master)
        self.assertIsNone(procs[self.master])

    def test_attached_master(self):
        """-p MASTER --follow-forks: the two workers running before the
        recording are found through /proc and attached, a third forked
        during it is followed; session.json names the first two."""
        self.gunicorn = subprocess.Popen(self.run_as([SYSTEM_PY, "-m", "gunicorn", "-w", "2", "-b",
                                                      "127.0.0.1:%d" % self.port, "flaskapp.app:app"]),
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         cwd=TARGETS, env=target_env(self.env))
        self.master = self.gunicorn.pid
        first = self.workers(2)
        out = os.path.join(self.tmp.name, "m.tar.zst")
        self.p = subprocess.Popen(self.run_as([REC, "-q", "--follow-forks", "-p", str(self.master),
                                               "-o", out, "watch", "flaskapp.views.get_item"]),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=tool_env(target_env(self.env), False), cwd=TARGETS)
        end = time.monotonic() + 60
        while not probes_in(out) and self.p.poll() is None and time.monotonic() < end:
            time.sleep(0.02)
        self.served = {}
        for n in range(20):
            self.get(n)
        os.kill(self.master, signal.SIGTTIN)
        third = [k for k in self.workers(3) if k not in first]
        for n in range(30):
            self.get(n)
        self.p.send_signal(signal.SIGINT)
        _, err = self.p.communicate(timeout=60)
        self.assertEqual((self.p.returncode, err), (0, ""))
        session, records, summary, _ = read_archive(out)
        self.assertEqual(sorted(p["pid"] for p in session["processes"]), first)
        self.assertEqual(sorted(self.served), sorted(first + third))
        self.assertEqual(per_pid(records, "flaskapp.views.get_item"), self.served)
        self.assertEqual(sorted(p["pid"] for p in summary["processes"]), sorted([self.master] + first + third))


@unittest.skipUnless(have_gunicorn(), "needs Debian's python3-flask and gunicorn (make check installs them)")
class GunicornAsNobody(GunicornMaster):
    """The same, as an unprivileged user: gunicorn and peeka-rec run as uid
    65534 with no capabilities (-p relies on the same-uid ptrace rule)."""
    as_user = AS_NOBODY + NO_CAPS

    @classmethod
    def setUpClass(cls):
        if os.getuid() != 0 or not shutil.which("setpriv"):
            raise unittest.SkipTest("needs root (to become uid %d) and setpriv" % NOBODY)

    def setUp(self):
        super().setUp()
        run_dir = os.path.join(self.tmp.name, "run")   # the user's private XDG_RUNTIME_DIR
        os.mkdir(run_dir, 0o700)
        for d in (self.tmp.name, run_dir):
            os.chown(d, NOBODY, NOBODY)
        self.env = {"XDG_RUNTIME_DIR": run_dir}

    def test_every_worker_recorded(self):
        super().test_every_worker_recorded()
        self.assertEqual(os.stat(os.path.join(self.tmp.name, "g.tar.zst")).st_uid, NOBODY)


if __name__ == "__main__":
    unittest.main()
