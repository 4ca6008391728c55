"""A fake agent for the recorder's side of the protocol (test_fake_agent.py).

peeka-rec launches it as `sh -c 'exec python -S ...'`, so that the real
bootstrap (the sitecustomize peeka-rec put first on PYTHONPATH) never runs
and peeka-rec, seeing no -S, does not bring the agent in otherwise; it reads the
socket path and token from that bootstrap, connects, says HELLO, reads
WELCOME, answers install and ready, sends three good records, then does
what argv[1] names.  Afterwards it waits for peeka-rec to hang up (answering
pings and detach, with good counts unless the scenario says otherwise) and
exits 0.  It prints what it received on stdout for the test to read."""
import ast
import json
import os
import re
import socket
import struct
import sys
import time

SCENARIO = sys.argv[1]
NPROBES = 1


def bootstrap():
    site = os.environ["PYTHONPATH"].split(":")[0]
    with open(os.path.join(site, "sitecustomize.py")) as f:
        src = f.read()
    q = r"('(?:[^'\\]|\\.)*')"
    m = re.search(r"m\.start\(" + q + r", " + q + r", (\d+)", src)
    return ast.literal_eval(m.group(1)), ast.literal_eval(m.group(2))


def frame(ftype, body):
    if isinstance(body, str):
        body = body.encode()
    return struct.pack("<IB3x", len(body), ftype) + body


class Peer:
    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def read_frame(self, timeout=10):
        self.s.settimeout(timeout)
        while True:
            if len(self.buf) >= 8:
                n, t = struct.unpack("<IB", self.buf[:5])
                if len(self.buf) >= 8 + n:
                    body = self.buf[8:8 + n]
                    self.buf = self.buf[8 + n:]
                    return t, body
            try:
                chunk = self.s.recv(65536)
            except (socket.timeout, OSError):
                return None, None
            if not chunk:
                return None, None
            self.buf += chunk

    def request(self, cmd=None):
        """The next REQUEST (of that cmd); None at EOF."""
        while True:
            t, body = self.read_frame()
            if t is None:
                return None
            if t == 3:
                req = json.loads(body)
                print("request", req.get("cmd"), req.get("id"), flush=True)
                if cmd is None or req.get("cmd") == cmd:
                    return req
                if req.get("cmd") == "ping":
                    self.reply(req["id"])

    def send(self, ftype, body):
        self.s.sendall(frame(ftype, body))

    def reply(self, rid, **fields):
        self.send(4, json.dumps(dict({"id": rid, "ok": True}, **fields)))


seq = 0


def record(probe_id=1, **extra):
    global seq
    seq += 1
    r = {"type": "observation", "kind": "watch", "probe_id": probe_id, "watch_id": probe_id,
         "seq": seq, "ts_ns": time.time_ns(), "timestamp": time.time(),
         "func_name": "fake.func", "location": "AtExit", "params": [seq], "kwargs": {},
         "target": None, "returnObj": seq, "success": True, "throwExp": None,
         "cost": 0.001, "cost_ns": 1000, "thread_id": 1, "thread_name": "MainThread"}
    r.update(extra)
    return json.dumps(r, separators=(",", ":")) + "\n"


def seg_def(sid, data):
    """One definition of a SEGMENTS body (docs/protocol.md "Segments")."""
    if isinstance(data, str):
        data = data.encode()
    return struct.pack("<HH", sid, len(data)) + data


def seg_ref(sid):
    return bytes([1, 0x80 | (sid & 0x7f), 0x80 | (sid >> 7)])


def compact(line, segs):
    """line (a record) with each of segs (id -> text) replaced by its reference."""
    out = line.encode()
    for sid, text in segs.items():
        out = out.replace(text.encode(), seg_ref(sid))
    return out


def send_compact(peer, n):
    """Defines the head and thread segments, then n records that use them."""
    segs = {0: '{"type":"observation","kind":"watch","probe_id":1,"watch_id":1,"seq":',
            1: ',"thread_id":1,"thread_name":"MainThread"}'}
    peer.send(7, seg_def(0, segs[0]) + seg_def(1, segs[1]))
    lines = [record() for _ in range(n)]
    peer.send(5, b"".join(compact(l, segs) for l in lines))
    print("compact", json.dumps(lines), flush=True)


def counts(**over):
    p = {"id": 1, "observations": seq, "drops": 0, "condition_errors": 0,
         "installed": ["fake.func"], "pending": False, "done": False}
    p.update(over)
    return {"probes": [p], "drops": 0, "observations": seq, "hooks": 1}


def main():
    path, token = bootstrap()
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    peer = Peer(s)
    peer.send(1, json.dumps({"proto": 1, "token": token, "pid": os.getpid(),
                             "python": "%d.%d.%d" % sys.version_info[:3], "agent": "fake",
                             "busy": False}))
    t, body = peer.read_frame()
    assert t == 2, t
    print("welcome", body.decode(), flush=True)
    inst = peer.request("install")
    bad_install = {
        "install-no-id": lambda: peer.send(4, '{"ok":true,"probes":[]}'),
        "install-id-string": lambda: peer.send(4, '{"id":"1","ok":true}'),
        "install-fail-no-error": lambda: peer.send(4, json.dumps({"id": inst["id"], "ok": False})),
        "install-bad-probe-id": lambda: peer.reply(inst["id"], probes=[{"installed": [], "pending": True}]),
        "install-not-json": lambda: peer.send(4, "{nope"),
        "records-before-install": lambda: (peer.send(5, record()), peer.reply(inst["id"], **counts())),
    }
    if SCENARIO in bad_install:
        bad_install[SCENARIO]()
    else:
        peer.reply(inst["id"], **counts())
        ready = peer.request("ready")
        peer.reply(ready["id"])
        peer.send(5, "".join(record() for _ in range(3)))
        time.sleep(0.3)
        act(peer)
    linger(peer)


def act(peer):
    sc = SCENARIO
    if sc == "good":
        pass
    elif sc.startswith("reply-id:"):
        peer.send(4, '{"id":%s,"ok":true}' % sc.split(":", 1)[1])
    elif sc == "reply-no-id":
        peer.send(4, '{"ok":true}')
    elif sc == "reply-no-ok":
        peer.send(4, '{"id":1}')
    elif sc == "records-probe-0":
        peer.send(5, record(probe_id=0))
    elif sc == "records-probe-2":
        peer.send(5, record() + record(probe_id=2))
    elif sc == "records-probe-huge":
        peer.send(5, record(probe_id=10 ** 20))
    elif sc == "records-not-jsonl":
        peer.send(5, "this is not json\nnor is this\n")
    elif sc == "records-no-newline":
        peer.send(5, record()[:-1])
    elif sc == "records-nul":
        peer.send(5, record()[:-3] + "\0}\n")
    elif sc == "oversized":
        peer.s.sendall(struct.pack("<IB3x", 64 << 20, 5) + b"x" * 1000)
    elif sc == "type-99":
        peer.send(99, "{}")
    elif sc == "type-0":
        peer.send(0, "{}")
    elif sc == "reserved":
        peer.s.sendall(struct.pack("<IB3B", 2, 5, 1, 0, 0) + b"{}")
    elif sc == "type-welcome":
        peer.send(2, '{"proto":1}')
    elif sc == "type-hello":
        peer.send(1, '{"proto":1}')
    elif sc == "event-unknown-reason":
        peer.send(6, json.dumps(dict(counts(), event="detached", reason="cosmic-rays")))
        peer.s.close()
        time.sleep(2)
        sys.exit(0)
    elif sc == "event-not-json":
        peer.send(6, "[1,2")
    elif sc == "event-bad-counts":
        peer.send(6, json.dumps({"event": "detached", "reason": "deadline",
                                 "probes": [{"id": 7}, {"observations": "many"}]}))
    elif sc == "truncated":
        peer.s.sendall(frame(5, record())[:20])
        peer.s.close()
        time.sleep(2)       # alive: peeka-rec must not take this for the target's exit
        sys.exit(0)
    elif sc == "truncated-header":
        peer.s.sendall(frame(5, record())[:5])
        peer.s.close()
        time.sleep(2)
        sys.exit(0)
    elif sc == "detach-bad-counts":
        pass                # linger() answers detach with counts naming no probe
    elif sc == "seg-good":
        send_compact(peer, 4)
        peer.send(5, record())   # literal records still work in between
        peer.send(7, seg_def(2, ',"location":"AtExit"'))
        segs = {2: ',"location":"AtExit"'}
        line = record()
        peer.send(5, compact(line, segs))
        print("compact", json.dumps([line]), flush=True)
    elif sc == "seg-undefined":
        send_compact(peer, 1)
        peer.send(5, seg_ref(2) + b"\n")
    elif sc == "seg-newline":
        peer.send(7, seg_def(0, "abc\ndef"))
    elif sc == "seg-short":
        peer.send(7, seg_def(0, "abc"))
    elif sc == "seg-out-of-order":
        peer.send(7, seg_def(1, "abcdef"))
    elif sc == "seg-again":
        peer.send(7, seg_def(0, "abcdef"))
        peer.send(7, seg_def(0, "abcdef"))
    elif sc == "seg-cut":
        peer.send(7, seg_def(0, "abcdef")[:-1])
    elif sc == "seg-cut-ref":
        peer.send(7, seg_def(0, "{\"type\":\"observation\""))
        peer.send(5, seg_ref(0)[:2] + b"\n")
    elif sc == "seg-expands-too-far":
        peer.send(7, seg_def(0, "x" * 2048))
        peer.send(5, seg_ref(0) * 2100 + b"\n")
    else:
        raise SystemExit("unknown scenario " + sc)


def linger(peer):
    """Until peeka-rec hangs up: answer pings and detach."""
    end = time.monotonic() + 20
    while time.monotonic() < end:
        req = peer.request()
        if req is None:
            print("eof", flush=True)
            return
        if req.get("cmd") == "detach":
            if SCENARIO == "detach-bad-counts":
                peer.send(4, json.dumps({"id": req["id"], "ok": True,
                                         "probes": [{"installed": []}, {"id": 10 ** 9}]}))
            else:
                peer.reply(req["id"], **counts(), reason="detach")
            peer.s.close()
            print("detached", flush=True)
            return
        peer.reply(req["id"])


main()
