"""Attach-mode target: calls the watched functions forever; on SIGUSR1 it
checks that every function and descriptor is the original object and
prints the verdict."""
import signal
import sys
import threading
import time

from wt import funcs
from wt.funcs import add as alias_add

ORIG = {
    "add": funcs.add, "alias": alias_add, "area": funcs.Shape.__dict__["area"],
    "make": funcs.Shape.__dict__["make"], "unit": funcs.Shape.__dict__["unit"],
    "label": funcs.Shape.__dict__["label"], "decorated": funcs.decorated,
}


def identity_check(signum, frame):
    now = {
        "add": funcs.add, "alias": alias_add, "area": funcs.Shape.__dict__["area"],
        "make": funcs.Shape.__dict__["make"], "unit": funcs.Shape.__dict__["unit"],
        "label": funcs.Shape.__dict__["label"], "decorated": funcs.decorated,
    }
    bad = [k for k in ORIG if now[k] is not ORIG[k]]
    print("IDENTITY " + ("OK" if not bad else "CHANGED " + ",".join(bad)), flush=True)


signal.signal(signal.SIGUSR1, identity_check)
counter = 0


def spin(name):
    global counter
    s = funcs.Shape("t")
    while True:
        alias_add(1, 2)
        funcs.add(counter, 1)
        s.area()
        funcs.Shape.make("m")
        funcs.Shape.unit()
        s.label
        funcs.decorated(3)
        counter += 1
        time.sleep(0.002)


threading.Thread(target=spin, args=("w",), name="spinner", daemon=True).start()
print("ready", flush=True)
while True:
    time.sleep(0.05)
    if "--report" in sys.argv:
        print("alive %d" % counter, flush=True)
