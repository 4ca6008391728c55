#!/usr/bin/env python3
"""make bench: what top's sampling costs a CPU-bound target, per
interpreter.  One target process runs chunks of pure-Python work and
reports each chunk's time; peeka-rec attaches to it for windows of
`top -i 0.01` (100 Hz) and `-i 0.001` (1 kHz), each after an unobserved
window.  Two numbers:
- the wall-clock A/B: a chunk's time (25th percentile) inside a recording
  window (attach and detach left out) over the unobserved window before
  it.  On a loaded machine this can come out negative: a thread that
  blocks briefly at every sample gets the scheduler's wake-up credit and
  more CPU than in the unobserved window;
- the direct cost: how long each sample keeps the GIL from the program
  (the records' sample_ns), times the samples taken per second: the share
  of the target's time its Python threads cannot run.  Target at 100 Hz:
  < 1%.
"""
import json
import os
import subprocess
import threading
import time

from benchlib import BUILD, HERE, median, per_interpreter

REC = os.path.join(BUILD, "bin", "peeka-rec")
WINDOW = 2.0
PAIRS = 3


def low(xs):
    """The 25th percentile: other processes on the machine only ever add
    time to a chunk, so the low end is where the target's own speed shows."""
    xs = sorted(xs)
    return xs[len(xs) // 4]


def record(pid, interval):
    """One recording window: the span of it that counts (attach and detach
    left out), and each sample's (ts_ns, sample_ns)."""
    out = "/tmp/peeka-top-bench-%d.tar.zst" % pid
    start = time.monotonic()
    p = subprocess.run([REC, "-q", "-p", str(pid), "-d", str(WINDOW + 0.5), "-o", out, "top", "-i", interval],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    end = time.monotonic()
    raw = subprocess.run(["zstd", "-dcq", out], capture_output=True, check=False).stdout if os.path.exists(out) else b""
    if os.path.exists(out):
        os.unlink(out)
    if p.returncode != 0:
        raise RuntimeError("peeka-rec failed (%d): %s" % (p.returncode, p.stderr))
    samples = []
    for line in raw.split(b"\n"):
        i = line.find(b'{"type":"observation","kind":"top"')
        if i >= 0:
            r = json.loads(line[i:])
            samples.append((r["ts_ns"], r["sample_ns"]))
    return (start + 0.5, end - 0.2), samples


def bench(tag, py, chunk=600000):
    env = dict(os.environ, PYTHONPATH=HERE)
    t = subprocess.Popen([py, os.path.join(HERE, "top_workload.py"), str(chunk)], stdout=subprocess.PIPE,
                         text=True, env=env, cwd=HERE)
    assert t.stdout.readline().strip() == "ready"
    chunks = []

    def reader():
        for line in t.stdout:
            chunks.append(json.loads(line))
    threading.Thread(target=reader, daemon=True).start()

    def span_of(a, b):
        return [d for ts, d in chunks if a <= ts <= b]
    try:
        time.sleep(1.0)   # warm up
        for interval in ("0.01", "0.001"):
            ratios, n, base_ms, held, rates = [], 0, [], [], []
            for _ in range(PAIRS):
                b0 = time.monotonic()
                time.sleep(WINDOW)
                base = span_of(b0, time.monotonic())
                span, samples = record(t.pid, interval)
                obs = span_of(*span)
                ratios.append(low(obs) / low(base))
                n += len(obs)
                base_ms.append(low(base) * 1000)
                if len(samples) > 1:
                    held += [s for _, s in samples]
                    rates.append((len(samples) - 1) / ((samples[-1][0] - samples[0][0]) / 1e9))
            hold_us, rate = median(held) / 1000, median(rates)
            print("top     %-6s sampled at %4.0f Hz (%.0f samples/s taken): each sample keeps the GIL %.1f us"
                  " (median of %d) = %.2f%% of the target's time (target at 100 Hz: < 1%%); wall-clock A/B"
                  " %+.1f%% per chunk (median of %d window pairs, %d chunks of %.0f ms)"
                  % (tag, 1 / float(interval), rate, hold_us, len(held), hold_us * rate / 1e4,
                     100 * (median(ratios) - 1), PAIRS, n, median(base_ms)), flush=True)
    finally:
        t.kill()
        t.wait()


def main():
    per_interpreter(bench)


if __name__ == "__main__":
    main()
