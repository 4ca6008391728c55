"""Target for probes whose condition runs slow user code: two threads call
obs.funcs.<name>(Slow()) back to back, so a condition (str() of the argument,
0.4 s) is running whenever a recording ends.

obs_calls.py NAME SECONDS: stop after SECONDS (launch mode); with SECONDS 0,
print "ready" and stop at SIGUSR1 (attach mode).  Then report whether the
functions are the original plain function objects and how many hooks the
agent still holds, and exit 0.  On 3.11 the functions in the namespace
were replaced by the agent's wrappers: they must be plain functions again."""
import signal
import sys
import threading
import time
import types

from obs import funcs

NAMES = ("traced", "watched", "stacked")
ORIG = {n: getattr(funcs, n) for n in NAMES}
name, seconds = sys.argv[1], float(sys.argv[2])
stop = threading.Event()
calls = [0]


def worker():
    f_arg = funcs.Slow()
    while not stop.is_set():
        getattr(funcs, name)(f_arg)
        calls[0] += 1
        time.sleep(0.005)


asked = []
signal.signal(signal.SIGUSR1, lambda signum, frame: asked.append(1))
threads = [threading.Thread(target=worker, name="caller-%d" % i) for i in range(2)]
for t in threads:
    t.start()
print("ready", flush=True)
end = time.monotonic() + seconds
while (not asked) if seconds == 0 else time.monotonic() < end:
    time.sleep(0.02)
stop.set()
for t in threads:
    t.join()
# Launch mode on 3.11: the probe was installed at import, so ORIG may hold
# the agent's wrapper; what must be back is the plain function either way.
bad = [n for n in NAMES if type(getattr(funcs, n)) is not types.FunctionType or
       (type(ORIG[n]) is types.FunctionType and getattr(funcs, n) is not ORIG[n])]
agent = sys.modules.get("_peeka_agent")
hooks = agent.status()["hooks"] if agent else 0
print("obs done calls=%s identity=%s hooks=%d" % (
    "SOME" if calls[0] else "NONE", "OK" if not bad else "CHANGED " + ",".join(bad), hooks), flush=True)
