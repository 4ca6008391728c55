"""A real Flask service under a real gunicorn (Debian's python3-flask and
gunicorn, installed by `make check` through mk/deps.sh --tests), recorded
in attach mode in its workers: every response and every query count are the
same with and without peeka, every request is recorded exactly once, and
the master (which serves nothing) says where the calls are."""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from peeka_testlib import REC, TARGETS, agent_threads, children, probes_in, read_archive, rec, target_env

PER_INTERPRETER = False
SYSTEM_PY = "/usr/bin/python3"
N = 24


def have_gunicorn():
    return subprocess.run([SYSTEM_PY, "-c", "import flask, gunicorn"], capture_output=True).returncode == 0


def fd_kinds(pid):
    """'socket', 'pipe', 'anon_inode:[eventpoll]' or 'file' per open fd
    (gunicorn gives each worker a heartbeat file of its own name)."""
    kinds = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("/"):
            link = "file"
        kinds.append(link.split(":[")[0] if ":[" in link and not link.startswith("anon") else link)
    return sorted(kinds)


def wait_idle(pid, timeout=10):
    """Until pid's main thread sleeps, twice in a row: the client has its
    response before the worker's handle() returns (it closes the socket
    first), so a recording stopped at once could miss that last return."""
    stat = "/proc/%d/task/%d/stat" % (pid, pid)
    end, seen = time.monotonic() + timeout, 0
    while seen < 2 and time.monotonic() < end:
        with open(stat) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        seen = seen + 1 if state == "S" else 0
        time.sleep(0.02)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@unittest.skipUnless(have_gunicorn(), "needs Debian's python3-flask and gunicorn (make check installs them)")
class FlaskUnderGunicorn(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="peeka-flask-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.port = free_port()
        self.log = open(os.path.join(self.tmp, "gunicorn.log"), "w+")
        self.master = subprocess.Popen(
            [SYSTEM_PY, "-m", "gunicorn", "-w", "2", "-b", "127.0.0.1:%d" % self.port,
             "flaskapp.app:app"], stdout=self.log, stderr=subprocess.STDOUT, cwd=TARGETS,
            env=target_env())
        self.addCleanup(self.stop)
        self.workers = self.wait_for_workers()

    def stop(self):
        self.master.send_signal(signal.SIGTERM)
        try:
            self.master.wait(10)
        except subprocess.TimeoutExpired:
            self.master.kill()
            self.master.wait()
        self.log.close()

    def wait_for_workers(self):
        """Both workers booted and answering."""
        end = time.monotonic() + 30
        while time.monotonic() < end:
            kids = children(self.master.pid)
            seen = set()
            if len(kids) == 2:
                for _ in range(40):
                    try:
                        seen.add(self.get(1)[1])
                    except OSError:
                        break
                if seen == set(kids):
                    return sorted(seen)
            time.sleep(0.1)
        self.log.seek(0)
        raise AssertionError("gunicorn did not start two workers:\n" + self.log.read())

    def get(self, n):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            c.request("GET", "/item/%d" % n)
            r = c.getresponse()
            body = json.loads(r.read())
            return (r.status, body["result"]), body["pid"]
        finally:
            c.close()

    def round(self):
        return [self.get(n)[0] for n in range(N)]

    def test_recorded_workers_answer_exactly_as_before(self):
        baseline = self.round()
        self.assertEqual({r[1]["queries"] for r in baseline}, {1})
        recs = []
        for w in self.workers:
            out = os.path.join(self.tmp, "%d.tar.zst" % w)
            p = subprocess.Popen([REC, "-q", "-p", str(w), "-o", out,
                                  "--probe", "watch flaskapp.views.get_item -x 4",
                                  "--probe", "watch flask.app.Flask.dispatch_request -x 1"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=target_env())
            recs.append((p, out))
        for p, out in recs:
            end = time.monotonic() + 30
            while p.poll() is None and not probes_in(out) and time.monotonic() < end:
                time.sleep(0.02)
        during = self.round()
        for p, _ in recs:
            p.send_signal(signal.SIGINT)
        records = []
        for p, out in recs:
            _, err = p.communicate(timeout=30)
            self.assertEqual((p.returncode, err), (0, ""))
            records += read_archive(out)[1]
        after = self.round()
        self.assertEqual(during, baseline, "a response or a query count changed while recorded")
        self.assertEqual(after, baseline, "a response or a query count changed after the recording")
        items = [r for r in records if r["func_name"] == "flaskapp.views.get_item"]
        dispatch = [r for r in records if r["func_name"] == "flask.app.Flask.dispatch_request"]
        self.assertEqual(sorted(r["params"][0] for r in items), list(range(N)))
        self.assertEqual(len(dispatch), N)
        rows = items[0]["params"][1]
        self.assertEqual(rows["__class__"], "flaskapp.db.LazyRows")
        self.assertEqual(rows["__attrs__"], {"table": "items"})
        self.assertEqual({r["returnObj"]["table"] for r in items}, {"items"})

    def test_worker_forked_while_the_master_is_recorded(self):
        """SIGTTIN makes the master fork a worker while peeka is in the
        master: that worker starts without peeka's hooks or socket, and its
        own recording counts each of its requests once (the fork defect
        recorded every SyncWorker call twice)."""
        out = os.path.join(self.tmp, "master.tar.zst")
        p = subprocess.Popen([REC, "-q", "-p", str(self.master.pid), "-o", out,
                              "watch", "gunicorn.workers.sync.SyncWorker.handle"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=target_env())
        end = time.monotonic() + 30
        while p.poll() is None and not probes_in(out) and time.monotonic() < end:
            time.sleep(0.02)
        os.kill(self.master.pid, signal.SIGTTIN)
        new = None
        while new is None and time.monotonic() < end:
            fresh = [k for k in children(self.master.pid) if k not in self.workers]
            new = fresh[0] if fresh else None
            time.sleep(0.05)
        self.assertIsNotNone(new, "gunicorn did not fork a third worker")
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(agent_threads(new), [])
        # the same kinds of descriptors as a worker forked before peeka came
        self.assertEqual(fd_kinds(new), fd_kinds(self.workers[0]))
        wout = os.path.join(self.tmp, "new.tar.zst")
        w = subprocess.Popen([REC, "-q", "-p", str(new), "-o", wout,
                              "--probe", "watch gunicorn.workers.sync.SyncWorker.handle",
                              "--probe", "watch flaskapp.views.get_item"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=target_env())
        end = time.monotonic() + 30
        while w.poll() is None and not probes_in(wout) and time.monotonic() < end:
            time.sleep(0.02)
        # the kernel gives each connection to whichever worker accepts first:
        # a worker just forked on a loaded machine may get none of 3 * N
        served, n, end = [], 0, time.monotonic() + 60
        while (n < 3 * N or not served) and time.monotonic() < end:
            if self.get(n)[1] == new:
                served.append(n)
            n += 1
        wait_idle(new)
        w.send_signal(signal.SIGINT)
        _, err = w.communicate(timeout=30)
        self.assertEqual((w.returncode, err), (0, ""))
        recs = read_archive(wout)[1]
        self.assertGreater(len(served), 0, "the new worker served no request")
        handle = [r for r in recs if r["func_name"] == "gunicorn.workers.sync.SyncWorker.handle"]
        items = [r for r in recs if r["func_name"] == "flaskapp.views.get_item"]
        self.assertEqual(len(handle), len(served))
        self.assertEqual(sorted(r["params"][0] for r in items), served)
        self.assertEqual(sorted(r["seq"] for r in items), list(range(1, len(served) + 1)))

    def test_recording_the_master_names_the_workers(self):
        p = rec("-q", "-p", self.master.pid, "-o", os.path.join(self.tmp, "m.tar.zst"), "-d", "1",
                "watch", "flaskapp.views.get_item")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("recorded nothing in pid %d, which has 2 child processes running the same "
                      "Python (%d %d)" % (self.master.pid, self.workers[0], self.workers[1]), p.stderr)


if __name__ == "__main__":
    unittest.main()
