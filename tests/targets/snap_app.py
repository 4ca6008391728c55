"""Attach-mode target for the snapshot probes (test_snapshot_probes).

The loggers `sn` (level INFO, with the program's own counting handler),
`sn.app` and `sn.app.worker`.  On SIGUSR1 it emits a known set of log
records (5 INFO from the main thread, 3 WARNING from a worker thread, 2
DEBUG that the level INFO of `sn` never lets be made) and allocates 300
bytearrays it keeps, then prints "emitted".  On SIGUSR2 it prints what
the recording must have left as it was; on SIGHUP it sets `sn.app` to
ERROR itself and prints "changed"; on SIGWINCH it forks a child that
prints what it inherited (CHILD ...), and prints "forked".  --trace: tracemalloc is on from the
start, as the program's own choice."""
import logging
import os
import signal
import sys
import threading
import time
import tracemalloc

from sn import model

if "--trace" in sys.argv:
    tracemalloc.start()


class Counting(logging.Handler):
    def __init__(self):
        logging.Handler.__init__(self)
        self.got = []

    def emit(self, record):
        self.got.append(record.getMessage())


mine = Counting()
top = logging.getLogger("sn")
top.addHandler(mine)
top.setLevel(logging.INFO)
KEPT = []


def emit():
    for i in range(5):
        model.log.info("order %d of %s", i, "alice")
    model.log.debug("never made %d", 1)
    model.log.debug("never made %d", 2)

    def worker():
        for i in range(3):
            model.worker_log.warning("slow request %s took %.1f ms", "/cart", 12.5 + i)
    t = threading.Thread(target=worker, name="worker-1")
    t.start()
    t.join()
    for i in range(300):
        KEPT.append(bytearray(1000))   # ALLOCATION SITE
    print("emitted", flush=True)


def report():
    print("REPORT got=%d handlers=%s level=%d app_level=%d reads=%d tracing=%s factory=%s" % (
        len(mine.got), ",".join(type(h).__name__ for h in top.handlers), top.level,
        model.log.level, model.READS["count"], tracemalloc.is_tracing(),
        factory_name()), flush=True)
    print("MESSAGES " + "|".join(mine.got), flush=True)


def factory_name():
    factory = logging.getLogRecordFactory()
    return getattr(factory, "__name__", type(factory).__name__)


def fork():
    pid = os.fork()
    if pid == 0:
        print("CHILD app_level=%d factory=%s tracing=%s" % (
            model.log.level, factory_name(), tracemalloc.is_tracing()), flush=True)
        os._exit(0)
    os.waitpid(pid, 0)
    print("forked", flush=True)


def change():
    model.log.setLevel(logging.ERROR)
    print("changed", flush=True)


asked = []
signal.signal(signal.SIGUSR1, lambda s, f: asked.append(emit))
signal.signal(signal.SIGUSR2, lambda s, f: asked.append(report))
signal.signal(signal.SIGHUP, lambda s, f: asked.append(change))
signal.signal(signal.SIGWINCH, lambda s, f: asked.append(fork))
print("ready", flush=True)
while True:
    while asked:
        asked.pop(0)()
    time.sleep(0.01)
