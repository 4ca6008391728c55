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
On CPython 3.13+ the same windows are measured for `top --outside`
(peeka-rec reads the stacks itself, no agent, no GIL): the rate reached,
how long a round's read takes peeka-rec (read_ns), and the wall-clock A/B,
which there is the only cost the target can see (peeka-rec's reads run
beside it on the machine's CPUs).
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


def record(pid, interval, outside):
    """One recording window: the span of it that counts (attach and detach
    left out), and each sample's (ts_ns, sample_ns, read_ns)."""
    out = "/tmp/peeka-top-bench-%d.tar.zst" % pid
    start = time.monotonic()
    p = subprocess.run([REC, "-q", "-p", str(pid), "-d", str(WINDOW + 0.5), "-o", out, "top", "-i", interval]
                       + (["--outside"] if outside else []),
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
            samples.append((r["ts_ns"], r["sample_ns"], r.get("read_ns", 0), r["cycle"]))
    # attach (in-process) or the first read (outside) at the start, the
    # detach at the end: not the steady state
    return (start + (0.5 if not outside else 0.1), end - 0.2), samples


def version(py):
    out = subprocess.run([py, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True,
                         text=True, check=True).stdout.split()
    return tuple(int(x) for x in out)


def window_pairs(tag, pid, span_of, interval, outside):
    """PAIRS of an unobserved window and a recording window, alternated."""
    ratios, n, base_ms, held, reads, rates, rounds = [], 0, [], [], [], [], []
    for _ in range(PAIRS):
        b0 = time.monotonic()
        time.sleep(WINDOW)
        base = span_of(b0, time.monotonic())
        span, samples = record(pid, interval, outside)
        obs = span_of(*span)
        ratios.append(low(obs) / low(base))
        n += len(obs)
        base_ms.append(low(base) * 1000)
        if len(samples) > 1:
            held += [s for _, s, _, _ in samples]
            reads += [r for _, _, r, _ in samples]
            secs = (samples[-1][0] - samples[0][0]) / 1e9
            rates.append((len(samples) - 1) / secs)
            # a round in which the thread got no CPU samples nothing
            rounds.append((samples[-1][3] - samples[0][3]) / secs)
    hold_us, rate = median(held) / 1000, median(rates)
    ab = ("wall-clock A/B %+.1f%% per chunk (median of %d window pairs, %d chunks of %.0f ms)"
          % (100 * (median(ratios) - 1), PAIRS, n, median(base_ms)))
    if outside:
        print("top     %-6s --outside at %4.0f Hz (%.0f rounds/s, %.0f samples/s taken): no GIL taken; a "
              "round's read takes peeka-rec %.1f us (median of %d); %s"
              % (tag, 1 / float(interval), median(rounds), rate, median(reads) / 1000, len(reads), ab),
              flush=True)
    else:
        print("top     %-6s sampled at %4.0f Hz (%.0f rounds/s, %.0f samples/s taken): each sample keeps the"
              " GIL %.1f us (median of %d) = %.2f%% of the target's time (target at 100 Hz: < 1%%); %s"
              % (tag, 1 / float(interval), median(rounds), rate, hold_us, len(held), hold_us * rate / 1e4, ab),
              flush=True)


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
        modes = [False] + ([True] if version(py) >= (3, 13) else [])
        for outside in modes:
            for interval in ("0.01", "0.001"):
                window_pairs(tag, t.pid, span_of, interval, outside)
    finally:
        t.kill()
        t.wait()


def main():
    per_interpreter(bench)


if __name__ == "__main__":
    main()
