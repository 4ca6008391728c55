"""--ring SIZE (keep only the newest records, write them at the end), SIGUSR1
(a snapshot in ring mode, a flush otherwise) and --flush-period, end to
end against a real interpreter."""
import io
import os
import signal
import subprocess
import tarfile
import tempfile
import unittest

from peeka_testlib import (REC, StepBurstCase, probes_in, read_archive, rec, sessions, target_env,
                           tool_env, wait_until)

PER_INTERPRETER = True
RING = 65536


def raw_lines(path):
    """The data members' lines as bytes, in order (to count what the ring held)."""
    raw = subprocess.run(["zstd", "-dcq", path], capture_output=True, check=True).stdout
    lines = []
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r|") as tf:
        for m in tf:
            if "/data/" in m.name:
                lines += tf.extractfile(m).read().splitlines(keepends=True)
    return lines


class Ring(StepBurstCase):
    N = 2000   # about 380 bytes a record: far more than RING holds

    def start(self, *extra):
        p = subprocess.Popen([REC, "-p", str(self.t.pid), "-q", "-o", self.out] + list(extra) +
                             ["watch", "ses.work.step"], stderr=subprocess.PIPE, text=True,
                             env=tool_env(target_env(), False))
        wait_until(lambda: probes_in(self.out) or p.poll() is not None, "the probes are in")
        self.assertIsNone(p.poll(), p.stderr.read() if p.poll() is not None else "")
        return p

    def finish(self, p):
        p.send_signal(signal.SIGINT)
        rc = p.wait(60)
        err = p.stderr.read()
        p.stderr.close()
        self.assertEqual((rc, err), (0, ""))

    def assert_newest(self, path, calls_so_far, seen, snapshot=False, reason="signal"):
        """path holds exactly the newest records of calls_so_far that fit in RING."""
        session, records, summary, names = read_archive(path)
        lines = raw_lines(path)
        kept = len(records)
        self.assertGreater(kept, 0)
        self.assertEqual([r["params"][0] for r in records], calls_so_far[-kept:])
        self.assertEqual(summary["records"], kept)
        self.assertEqual(summary["probes"][0]["observations"], kept)
        size = sum(len(l) for l in lines)
        self.assertLessEqual(size, RING)
        # one more record (of the same shape) would not have fit
        self.assertGreater(size + max(len(l) for l in lines), RING)
        pol = summary["policy"]
        self.assertEqual((pol["name"], pol["ring_bytes"], pol["records_seen"],
                          pol["records_overwritten"]), ("ring", RING, seen, seen - kept))
        self.assertEqual(summary["reason"], "snapshot" if snapshot else reason)
        self.assertIsNotNone(session)
        return summary

    def test_ring_keeps_only_the_newest(self):
        p = self.start("--ring", "64K")
        calls = self.burst()
        calls += self.burst()
        # nothing is written before the recording ends
        names = read_archive(self.out + ".partial")[3]
        self.assertEqual([n.split("/", 1)[1] for n in names], ["session.json"])
        self.finish(p)
        summary = self.assert_newest(self.out, calls, 2 * self.N)
        self.assertEqual(summary["drops"], 0)
        self.assertEqual(summary["policy"]["snapshots"], 0)

    def detach(self, key, *extra):
        """A detached session (its record count tells when the records are in)."""
        p = rec("-p", self.t.pid, "--detach=" + key, "--no-limit", "-o", self.out, *extra,
                "watch", "ses.work.step")
        self.assertEqual(p.returncode, 0, p.stderr)
        return sessions()[key]["pid"]

    def received(self, key, n):
        wait_until(lambda: sessions()[key]["records"] == n, "%d records at the holder" % n)

    def test_usr1_snapshots(self):
        holder = self.detach("snap", "--ring", "64K")
        calls = self.burst()
        snap1 = os.path.join(self.tmp.name, "s.snapshot-1.tar.zst")
        snap2 = os.path.join(self.tmp.name, "s.snapshot-2.tar.zst")
        self.received("snap", self.N)
        os.kill(holder, signal.SIGUSR1)
        wait_until(lambda: os.path.exists(snap1), "snapshot 1")
        self.assert_newest(snap1, calls, self.N, snapshot=True)
        calls += self.burst()
        self.received("snap", 2 * self.N)
        os.kill(holder, signal.SIGUSR1)
        wait_until(lambda: os.path.exists(snap2), "snapshot 2")
        self.assert_newest(snap2, calls, 2 * self.N, snapshot=True)
        self.assertEqual(rec("--attach=snap", "--stop").returncode, 0)
        summary = self.assert_newest(self.out, calls, 2 * self.N, reason="stopped")
        self.assertEqual(summary["policy"]["snapshots"], 2)
        self.assertEqual(sorted(os.listdir(self.tmp.name)),
                         ["s.snapshot-1.tar.zst", "s.snapshot-2.tar.zst", "s.tar.zst"])

    def test_usr1_flushes_a_stream(self):
        # an hour between flushes: only SIGUSR1 writes the burst out
        holder = self.detach("flush", "--flush-period", "1h")
        calls = self.burst()
        self.received("flush", self.N)
        self.assertEqual(read_archive(self.out + ".partial")[1], [])
        os.kill(holder, signal.SIGUSR1)
        wait_until(lambda: len(read_archive(self.out + ".partial")[1]) == self.N, "the flush")
        self.assertEqual([r["params"][0] for r in read_archive(self.out + ".partial")[1]], calls)
        self.assertEqual(rec("--attach=flush", "--stop").returncode, 0)
        _, records, summary, _ = read_archive(self.out)
        self.assertEqual(len(records), self.N)
        self.assertEqual(summary["policy"], {"name": "stream", "flush_period_s": 3600})

    def test_ring_option_errors(self):
        for args, msg in ((["--ring", "1K"], "--ring needs a size from 64K"),
                          (["--ring", "64K", "-o", "-"], "--ring needs an archive"),
                          (["--flush-period", "0"], "--flush-period needs")):
            p = subprocess.run([REC, "-p", str(self.t.pid)] + args + ["watch", "ses.work.step"],
                               capture_output=True, text=True, env=tool_env(target_env(), False))
            self.assertEqual(p.returncode, 2, args)
            self.assertIn(msg, p.stderr)


if __name__ == "__main__":
    unittest.main()
