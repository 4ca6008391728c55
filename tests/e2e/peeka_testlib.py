"""Helpers for peeka's end-to-end tests: run the real binaries against real
interpreters and read the real archives (with the zstd tool and tarfile,
exactly as a user without peeka would)."""
import atexit
import io
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("PEEKA_BUILD", os.path.join(ROOT, "build"))
PY = os.environ.get("PEEKA_PY") or sys.executable
REC = os.path.join(BUILD, "bin", "peeka-rec")
ANALYZE = os.path.join(BUILD, "bin", "peeka-analyze")
TARGETS = os.path.join(ROOT, "tests", "targets")
# peeka-rec puts its socket directory in $XDG_RUNTIME_DIR when that is private:
# one per test process, so "nothing left behind" sees only our recorders.
RUNTIME_DIR = tempfile.mkdtemp(prefix="peeka-test-run-")
os.chmod(RUNTIME_DIR, 0o700)
atexit.register(shutil.rmtree, RUNTIME_DIR, True)


# (major, minor) of the interpreter under test
TARGET_VERSION = tuple(int(x) for x in subprocess.run(
    [PY, "-c", "import sys; print('%d %d' % sys.version_info[:2])"],
    capture_output=True, text=True, check=True).stdout.split())


# Runs a command as uid/gid 65534 with no supplementary groups; NO_CAPS
# also drops every inheritable capability (root's tests become a plain user).
NOBODY = 65534
AS_NOBODY = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"]
NO_CAPS = ["--inh-caps=-all"]


def target_env(extra=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = TARGETS
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["XDG_RUNTIME_DIR"] = RUNTIME_DIR
    env.update(extra or {})
    return env


def read_archive(path):
    """(session, records, summary, member names) of a .tar.zst, complete or partial."""
    raw = subprocess.run(["zstd", "-dcq", path], capture_output=True, check=False).stdout
    session, summary, records, names = None, None, [], []
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r|") as tf:
        try:
            for m in tf:
                names.append(m.name)
                data = tf.extractfile(m).read().decode()
                if m.name.endswith("/session.json"):
                    session = json.loads(data)
                elif m.name.endswith("/summary.json"):
                    summary = json.loads(data)
                else:
                    records += [json.loads(line) for line in data.splitlines() if line]
        except (tarfile.ReadError, EOFError):
            pass   # a truncated .partial: what came before is what counts
    return session, records, summary, names


def read_record_lines(path):
    """The record lines of an archive as stored, in order, without their newline."""
    raw = subprocess.run(["zstd", "-dcq", path], capture_output=True, check=False).stdout
    lines = []
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r|") as tf:
        for m in tf:
            if "/data/" in m.name:
                lines += tf.extractfile(m).read().decode().splitlines()
    return lines


def children(pid):
    """The pids whose parent is pid (from /proc: minimal machines have no pgrep;
    kernels without CONFIG_PROC_CHILDREN have no task/N/children either)."""
    kids = []
    for task in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                kids += [int(k) for k in f.read().split()]
        except FileNotFoundError:
            return sorted(k for k in map(int, filter(str.isdigit, os.listdir("/proc")))
                          if parent_of(k) == pid)
        except OSError:
            pass
    return sorted(kids)


def parent_of(pid):
    """pid's parent from /proc/PID/stat; 0 when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(") ", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def pid_func_counts(records):
    """{(pid, func_name): how many records} (--follow-forks archives)."""
    c = {}
    for r in records:
        key = (r.get("pid"), r["func_name"])
        c[key] = c.get(key, 0) + 1
    return c


def sessions():
    """{key: info} of the detached sessions (peeka-rec --list-sessions --json)."""
    p = rec("--list-sessions", "--json")
    assert p.returncode == 0, p.stderr
    return {s["key"]: s for s in json.loads(p.stdout)}


def wait_until(cond, what, timeout=20):
    """Polls cond() until it is true; fails naming `what` after timeout seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError("never happened: " + what)


def dead(pid):
    """pid has exited (gone, or a zombie nobody reaped yet)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(") ", 1)[1][0] in "ZX"
    except OSError:
        return True


def probes_in(archive):
    """True once peeka-rec has written session.json into ARCHIVE.partial,
    which it does when the agent has installed the probes."""
    try:
        return read_archive(archive + ".partial")[0] is not None
    except Exception:   # not there yet, or still empty
        return False


class Target:
    """A Python program under test, started with the interpreter under test."""

    def __init__(self, script, *args, env=None, prefix=()):
        """prefix: a command that runs the interpreter (setpriv as another user)."""
        self.out = tempfile.NamedTemporaryFile(prefix="peeka-target-", suffix=".out", delete=False)
        self.proc = subprocess.Popen(list(prefix) + [PY, os.path.join(TARGETS, script)] + list(args),
                                     stdout=self.out, stderr=subprocess.STDOUT,
                                     env=target_env(env), cwd=TARGETS)
        self.pid = self.proc.pid

    def wait_for(self, text, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if text in self.output():
                return True
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError("target never printed %r; output:\n%s" % (text, self.output()))

    def output(self):
        with open(self.out.name) as f:
            return f.read()

    def rss_kib(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def threads(self):
        return sorted(os.listdir("/proc/%d/task" % self.pid))

    def fds(self):
        fds = {}
        for fd in os.listdir("/proc/%d/fd" % self.pid):
            try:
                fds[fd] = os.readlink("/proc/%d/fd/%s" % (self.pid, fd))
            except OSError:
                pass
        return fds

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        os.unlink(self.out.name)


def agent_threads(pid):
    """Tasks of pid that block SIGINT and SIGTERM: the agent's thread does
    (signals belong to the application's threads); Python threads do not."""
    found = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                blk = next(int(l.split()[1], 16) for l in f if l.startswith("SigBlk:"))
        except (OSError, StopIteration):
            continue
        if blk & (1 << (signal.SIGINT - 1)) and blk & (1 << (signal.SIGTERM - 1)):
            found.append(tid)
    return found


def tool_env(env, launches_python):
    """Under make asan: peeka-rec and peeka-analyze get their leak checks
    back, unless peeka-rec launches a Python (which inherits its env)."""
    if os.environ.get("PEEKA_ASAN_PRELOAD") and not launches_python:
        env = dict(env)
        env.pop("LD_PRELOAD", None)
        env["ASAN_OPTIONS"] = "detect_leaks=1"
        if os.environ.get("PEEKA_ASAN_LOG"):   # a detached holder's stderr is /dev/null
            env["ASAN_OPTIONS"] += ":log_path=" + os.environ["PEEKA_ASAN_LOG"]
    return env


def rec(*args, timeout=60, env=None, stdin=None):
    """Runs peeka-rec; returns the CompletedProcess."""
    args = [str(a) for a in args]
    return subprocess.run([REC] + args, capture_output=True, text=True, timeout=timeout,
                          env=tool_env(target_env(env), "--" in args), cwd=TARGETS, stdin=stdin)


def launch(tmp, probes, script, *args, extra=()):
    """Records `script` in launch mode; returns (proc, archive path)."""
    out = os.path.join(tmp, "rec.tar.zst")
    cmd = ["-q", "-o", out] + list(extra)
    for p in probes:
        cmd += ["--probe", p]
    cmd += ["--", PY, os.path.join(TARGETS, script)] + list(args)
    return rec(*cmd), out


def peeka_sockets():
    """Socket directories peeka-rec leaves behind (there must be none)."""
    return [d for d in os.listdir(RUNTIME_DIR) if d.startswith("peeka-")]


def agent_frame(ftype, body, reserved=b"\0\0\0"):
    """One frame of the recorder <-> agent protocol (docs/protocol.md)."""
    return struct.pack("<IB", len(body), ftype) + reserved + body


def read_agent_frame(conn):
    """(type, body) of the next frame on a socket, (None, None) at EOF."""
    hdr = b""
    while len(hdr) < 8:
        chunk = conn.recv(8 - len(hdr))
        if not chunk:
            return None, None
        hdr += chunk
    n, t = struct.unpack("<IB", hdr[:5])
    body = b""
    while len(body) < n:
        body += conn.recv(n - len(body))
    return t, body


class StepBurstCase(unittest.TestCase):
    """One tests/targets/ses_calls.py target per class: burst() makes it call
    ses.work.step N times, arguments counting on over the class's bursts.
    Each case gets self.tmp and self.out (an archive path in it) and starts
    with no agent in the target."""
    N = 300

    @classmethod
    def setUpClass(cls):
        cls.t = Target("ses_calls.py", str(cls.N))
        cls.t.wait_for("ready")
        cls.bursts = 0

    @classmethod
    def tearDownClass(cls):
        cls.t.stop()

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.tmp.name, "s.tar.zst")
        wait_until(lambda: not agent_threads(self.t.pid), "the previous agent left")

    def tearDown(self):
        self.tmp.cleanup()

    def burst(self):
        """N calls of ses.work.step; returns the arguments they had."""
        first = type(self).bursts * self.N
        type(self).bursts += 1
        os.kill(self.t.pid, signal.SIGUSR2)
        self.t.wait_for("burst %d done" % self.bursts, timeout=60)
        return list(range(first, first + self.N))
