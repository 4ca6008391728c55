"""Writes peeka archives exactly as docs/format.md describes them, for the
analyzer's tests and benchmark: a tar whose every member (header, body,
padding) is one complete zstd frame, made with the `zstd` command line
tool; the two end-of-archive blocks share the summary's frame.

    w = ArchiveWriter("/tmp/x.tar.zst")
    w.add_records([watch_record("app.f", cost_ns=1200), ...])
    w.close()                   # summary.json, end marker, rename
    w.abort()                   # or: leave X.tar.zst.partial, no summary
"""
import io
import json
import os
import subprocess
import tarfile

START_NS = 1763911800123456789


def zstd_frame(data, level=3):
    """One complete zstd frame holding data."""
    return subprocess.run(["zstd", "-q", "-c", "-%d" % level, "--no-progress"], input=data,
                          stdout=subprocess.PIPE, check=True).stdout


def tar_member(name, body, mtime=1763911800):
    info = tarfile.TarInfo(name)
    info.size = len(body)
    info.mtime = mtime
    info.mode = 0o644
    head = info.tobuf(format=tarfile.PAX_FORMAT)
    pad = (-len(body)) % 512
    return head + body + b"\0" * pad


def session_doc(stem="peeka-4242-20261123-153000", probes=None, **over):
    doc = {
        "format": "peeka-archive", "format_version": 1,
        "tool": "peeka-rec", "tool_version": "0.1.0", "mode": "launch",
        "target": {"pid": 4242, "argv": ["python3", "app.py"], "exe": "/usr/bin/python3.11",
                   "python": "3.11.2", "uid": 1000},
        "host": "web-1", "start_ns": START_NS, "start": "2026-11-23T15:30:00.123Z",
        "limits": {"duration_s": 60, "max_records": None},
        "agent": {"buffer_bytes": 4194304},
        "probes": probes if probes is not None else [
            {"id": 1, "kind": "watch", "pattern": "app.*", "spec": "watch app.* -x 2",
             "options": {"depth": 2, "times": None, "condition": None, "at_enter": False,
                         "at_success": True, "at_exception": True}}],
    }
    doc.update(over)
    return doc


def watch_record(func, cost_ns, ts_ns=None, seq=1, probe_id=1, params=None, kwargs=None,
                 throw=None, ret=None, thread_id=139872, thread_name="MainThread", location=None,
                 target=None):
    ts_ns = START_NS + 1000000 * seq if ts_ns is None else ts_ns
    ok = throw is None
    return {
        "type": "observation", "kind": "watch", "probe_id": probe_id, "watch_id": probe_id,
        "seq": seq, "ts_ns": ts_ns, "timestamp": round(ts_ns / 1e9, 6), "func_name": func,
        "location": location or ("AtExit" if ok else "AtExceptionExit"),
        "params": params if params is not None else [], "kwargs": kwargs or {},
        "target": target, "returnObj": ret if ok else None, "success": ok, "throwExp": throw,
        "cost": round(cost_ns / 1e6, 3), "cost_ns": cost_ns,
        "thread_id": thread_id, "thread_name": thread_name,
    }


def node(func, cost_ns, children=(), self_ns=None, count=1, builtin=False, line=1, file="app.py"):
    kids = list(children)
    if self_ns is None:
        self_ns = cost_ns - sum(k["cost_ns"] for k in kids)
    return {"func": func, "file": file, "line": line, "cost_ns": cost_ns, "self_ns": self_ns,
            "count": count, "builtin": builtin, "children": kids}


def count_nodes(n):
    return 1 + sum(count_nodes(k) for k in n["children"])


def trace_record(tree, ts_ns=None, seq=1, probe_id=2, thread_id=139872, thread_name="MainThread"):
    ts_ns = START_NS + 1000000 * seq if ts_ns is None else ts_ns
    return {
        "type": "observation", "kind": "trace", "probe_id": probe_id, "seq": seq, "ts_ns": ts_ns,
        "timestamp": round(ts_ns / 1e9, 6), "func_name": tree["func"], "call_tree": tree,
        "total_duration_ms": round(tree["cost_ns"] / 1e6, 3), "node_count": count_nodes(tree),
        "truncated": False, "thread_id": thread_id, "thread_name": thread_name,
    }


def dumps(rec):
    return json.dumps(rec, separators=(",", ":"), ensure_ascii=False)


class ArchiveWriter:
    def __init__(self, path, stem=None, session=None, chunk_bytes=1 << 20, level=3):
        self.path = path
        self.stem = stem or os.path.basename(path).split(".tar.zst")[0]
        self.partial = path + ".partial"
        self.f = open(self.partial, "wb")
        self.chunk_bytes = chunk_bytes
        self.level = level
        self.buf = io.BytesIO()
        self.chunks = 0
        self.records = 0
        self.bytes_jsonl = 0
        self.per_probe = {}
        self.session = session or session_doc(self.stem)
        self._member("session.json", json.dumps(self.session).encode())

    def _member(self, name, body, tail=b""):
        self.f.write(zstd_frame(tar_member(self.stem + "/" + name, body) + tail, self.level))
        self.f.flush()

    def add_lines(self, lines):
        """Raw JSONL lines (str or bytes, without newline)."""
        for line in lines:
            b = line.encode() if isinstance(line, str) else line
            self.buf.write(b + b"\n")
            self.records += 1
            if self.buf.tell() >= self.chunk_bytes:
                self.flush()

    def add_records(self, records):
        for r in records:
            pid = r.get("probe_id", 1)
            self.per_probe[pid] = self.per_probe.get(pid, 0) + 1
        self.add_lines(dumps(r) for r in records)

    def flush(self):
        data = self.buf.getvalue()
        if not data:
            return
        self.chunks += 1
        self.bytes_jsonl += len(data)
        self._member("data/%06d.jsonl" % self.chunks, data)
        self.buf = io.BytesIO()

    def summary_doc(self, **over):
        doc = {
            "end_ns": START_NS + 60 * 10**9, "end": "2026-11-23T15:31:00.123Z",
            "reason": "duration", "complete": True, "records": self.records,
            "chunks": self.chunks, "bytes_jsonl": self.bytes_jsonl, "drops": 0,
            "probes": [{"id": pid, "pattern": "app.*", "observations": n, "drops": 0,
                        "condition_errors": 0, "installed": [], "pending": False}
                       for pid, n in sorted(self.per_probe.items())],
            "target_exit": None,
        }
        doc.update(over)
        return doc

    def close(self, **summary_over):
        self.flush()
        self._member("summary.json", json.dumps(self.summary_doc(**summary_over)).encode(),
                     tail=b"\0" * 1024)
        self.f.close()
        os.rename(self.partial, self.path)
        return self.path

    def abort(self):
        """Leaves PATH.partial with what was flushed, as a killed recorder does."""
        self.flush()
        self.f.close()
        return self.partial


def write_archive(path, records, session=None, chunk_bytes=1 << 20, **summary_over):
    w = ArchiveWriter(path, session=session, chunk_bytes=chunk_bytes)
    w.add_records(records)
    return w.close(**summary_over)
