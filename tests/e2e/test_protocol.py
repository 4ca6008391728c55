"""The agent against a recorder that misbehaves: malformed frames, a wrong
first frame, silence.  The agent answers what it can, never crashes the
target, and removes itself."""
import json
import os
import socket
import struct
import subprocess
import tempfile
import time
import unittest

from peeka_testlib import BUILD, PY, TARGETS, agent_frame as frame, read_agent_frame, target_env

PER_INTERPRETER = True

AGENT_PROGRAM = r"""
import importlib.machinery as im, importlib.util as iu, sys, threading, time
tag = "cp%d%d" % sys.version_info[:2]
path = sys.argv[1] + "/lib/peeka/agent/" + tag + "/_peeka_agent.so"
l = im.ExtensionFileLoader("_peeka_agent", path)
m = iu.module_from_spec(iu.spec_from_file_location("_peeka_agent", path, loader=l))
l.exec_module(m)
from wt import funcs
m.start(sys.argv[2], "tok")
for i in range(400):
    funcs.add(i, 1)
    time.sleep(0.01)
    if not m.status()["active"] and i > 20:
        break
print("threads", threading.active_count(), "active", m.status()["active"], "hooks", m.status()["hooks"],
      "same", funcs.add.__code__.co_name, flush=True)
"""


class FakeRecorder(unittest.TestCase):
    def run_agent(self, script):
        tmp = tempfile.mkdtemp()
        path = os.path.join(tmp, "s.sock")
        srv = socket.socket(socket.AF_UNIX)
        srv.bind(path)
        srv.listen(1)
        proc = subprocess.Popen([PY, "-c", AGENT_PROGRAM, BUILD, path], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=target_env(), cwd=TARGETS)
        srv.settimeout(10)
        conn, _ = srv.accept()
        conn.settimeout(10)
        try:
            script(conn)
        finally:
            conn.close()
            srv.close()
        out, errout = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 0, errout)
        self.assertEqual(errout, "", "the agent wrote to the target's stderr")
        self.assertIn("active False hooks 0", out)
        return out

    def read_frame(self, conn):
        return read_agent_frame(conn)

    def welcome_and_install(self, conn):
        t, body = self.read_frame(conn)
        self.assertEqual(t, 1)
        self.assertEqual(json.loads(body)["token"], "tok")
        conn.sendall(frame(2, b'{"proto":1,"lease_ms":2000}'))
        conn.sendall(frame(3, json.dumps({"id": 1, "cmd": "install", "probes": [
            {"id": 1, "kind": "watch", "pattern": "wt.funcs.add"}]}).encode()))
        while True:
            t, body = self.read_frame(conn)
            if t == 4:
                self.assertTrue(json.loads(body)["ok"])
                return

    def expect_error_reply(self, conn, words):
        while True:
            t, body = self.read_frame(conn)
            self.assertIsNotNone(t, "closed without an error reply")
            if t == 4:
                rep = json.loads(body)
                self.assertFalse(rep["ok"])
                self.assertIn(words, rep["error"])
                return

    def test_oversized_frame(self):
        def script(conn):
            self.welcome_and_install(conn)
            conn.sendall(struct.pack("<IB3x", 64 << 20, 3))
            self.expect_error_reply(conn, "exceeds the size limit")
        self.run_agent(script)

    def test_unknown_type_and_reserved_bytes(self):
        def script(conn):
            self.welcome_and_install(conn)
            conn.sendall(frame(99, b"{}"))
            self.expect_error_reply(conn, "unknown frame type")
        self.run_agent(script)
        def script2(conn):
            self.welcome_and_install(conn)
            conn.sendall(frame(3, b"{}", reserved=b"\1\0\0"))
            self.expect_error_reply(conn, "reserved")
        self.run_agent(script2)

    def test_bad_json_and_unknown_command_keep_session(self):
        def script(conn):
            self.welcome_and_install(conn)
            conn.sendall(frame(3, b"{not json"))
            self.expect_error_reply(conn, "not a JSON object")
            conn.sendall(frame(3, b'{"id":7,"cmd":"frobnicate"}'))
            self.expect_error_reply(conn, "unknown command")
            time.sleep(0.3)   # the session goes on: calls are still observed
            conn.sendall(frame(3, b'{"id":8,"cmd":"detach"}'))
            while True:
                t, body = self.read_frame(conn)
                if t == 4 and json.loads(body).get("id") == 8:
                    self.assertGreater(json.loads(body)["probes"][0]["observations"], 0)
                    return
        self.run_agent(script)

    def test_agent_checks_options_by_the_probe_table(self):
        """The agent refuses what peeka-rec would never send, with the same
        ranges (common/probe_table.c), instead of clamping it; the session
        goes on and a good install still works."""
        bad = ((dict(kind="trace", max_depth=65), "probe 1: max_depth 65 is out of range (1..64)"),
               (dict(kind="stack", max_depth=0), "probe 1: max_depth 0 is out of range (1..256)"),
               (dict(kind="watch", depth=17), "probe 1: depth 17 is out of range (1..16)"),
               (dict(kind="watch", times=0), "probe 1: times 0 is not a positive count or -1"),
               (dict(kind="monitor", interval_s=0.001), "probe 1: interval_s 0.001 is out of range"),
               (dict(kind="watch", at_enter=1), "probe 1: 'at_enter' is not a boolean"),
               (dict(kind="watch", condition=3), "probe 1: 'condition' is not a string"),
               (dict(kind="trace", record=["x"]), "probe 1: 'record' is not an option of trace probes"),
               (dict(kind="monitor", condition="x"), "'condition' is not an option of monitor probes"))
        def script(conn):
            self.read_frame(conn)
            conn.sendall(frame(2, b'{"proto":1,"lease_ms":2000}'))
            for n, (fields, words) in enumerate(bad, 1):
                probe = dict(id=1, pattern="wt.funcs.add", **fields)
                conn.sendall(frame(3, json.dumps({"id": n, "cmd": "install", "probes": [probe]}).encode()))
                self.expect_error_reply(conn, words)
            conn.sendall(frame(3, json.dumps({"id": 50, "cmd": "install", "probes": [
                {"id": 1, "kind": "trace", "pattern": "wt.funcs.add", "max_depth": 64}]}).encode()))
            while True:
                t, body = self.read_frame(conn)
                if t == 4:
                    self.assertTrue(json.loads(body)["ok"], body)
                    break
            conn.sendall(frame(3, b'{"id":51,"cmd":"detach"}'))
            while self.read_frame(conn)[0] is not None:
                pass
        self.run_agent(script)

    def test_silent_recorder(self):
        def script(conn):
            self.welcome_and_install(conn)
            time.sleep(3.5)   # lease 2 s: the agent leaves on its own
        self.run_agent(script)

    def test_no_welcome(self):
        def script(conn):
            self.read_frame(conn)
            conn.sendall(frame(4, b'{"id":1}'))   # not WELCOME
        self.run_agent(script)


if __name__ == "__main__":
    unittest.main()
