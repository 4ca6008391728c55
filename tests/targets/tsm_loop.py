"""Attach-mode target for trace, stack and monitor: the main thread calls
the probed functions forever under its own Python profile function.  After
SIGUSR1 it reports whether that profile function is still installed and
still sees calls, whether the functions are the original objects and
whether trace gave its sys.monitoring tool id back (3.12+).  With
--hog-tools every sys.monitoring tool id is taken first."""
import signal
import sys
import time

from tsm import funcs

ORIG = {"root": funcs.root, "work": funcs.work, "stack_c": funcs.stack_c}
calls = {"middle": 0}


def prof(frame, event, arg):
    if event == "call" and frame.f_code.co_name == "middle":
        calls["middle"] += 1


def report():
    bad = [k for k in ORIG if getattr(funcs, k) is not ORIG[k]]
    before = calls["middle"]
    funcs.middle(1)
    mon = getattr(sys, "monitoring", None)   # 3.12+: trace's tool id given back
    tools = [mon.get_tool(i) for i in range(6)] if mon else []
    print("REPORT profile=%s counting=%s identity=%s tools=%s" % (
        "KEPT" if sys.getprofile() is prof else "LOST",
        "YES" if calls["middle"] == before + 1 else "NO",
        "OK" if not bad else "CHANGED " + ",".join(bad),
        "FREE" if "peeka" not in tools else "HELD"), flush=True)


# The check runs in the loop, not in the handler: a handler can run inside
# prof itself, where CPython reports no events.
asked = []
signal.signal(signal.SIGUSR1, lambda signum, frame: asked.append(1))
if "--profile" in sys.argv:
    sys.setprofile(prof)
if "--hog-tools" in sys.argv and hasattr(sys, "monitoring"):
    for tool in range(6):
        if sys.monitoring.get_tool(tool) is None:
            sys.monitoring.use_tool_id(tool, "hog")
print("ready", flush=True)
i = 0
while True:
    funcs.root(3)
    try:
        funcs.work(i)
    except KeyError:
        pass
    funcs.stack_a()
    if asked:
        asked.clear()
        report()
    i += 1
    time.sleep(0.002)
