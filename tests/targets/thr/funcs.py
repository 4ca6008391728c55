"""Functions the thread, top, stack and monitor tests look for by name."""
import ctypes
import os
import signal
import threading
import time


def park(ev):
    ev.wait()


def hot():
    """Runs until the process ends, calling no other Python function (its
    frame is the innermost one of every sample)."""
    x = 0
    while True:
        for i in range(1000):
            x += i * i


def hold_gil_in_c(go, seconds):
    """Waits for the file `go`, then sleeps in C without letting the GIL
    go (ctypes.PyDLL keeps it across the call)."""
    while not os.path.exists(go):
        time.sleep(0.01)
    ctypes.PyDLL(None).usleep(int(seconds * 1e6))
    print("unstuck", flush=True)


def leaf(n):
    return n + 1


def from_a():
    return leaf(1)


def from_b():
    return leaf(2)


def stacks_now(path):
    """Every thread's stack as the interpreter itself sees it, innermost
    first, by native id, into the JSON file `path`: what a reader from
    outside must find.  This function's own frame is left out."""
    import json
    import sys
    natives = {t.ident: t.native_id for t in threading.enumerate()}
    stacks = {}
    for ident, f in sys._current_frames().items():
        if ident == threading.get_ident():
            f = f.f_back
        frames = []
        while f:
            frames.append([f.f_code.co_name, f.f_code.co_filename, f.f_lineno])
            f = f.f_back
        stacks[str(natives[ident])] = frames
    with open(path + ".tmp", "w") as out:
        json.dump(stacks, out)
    os.rename(path + ".tmp", path)


def hold_gil_reporting(path, seconds, others):
    """Once `others` threads are parked, writes every stack (stacks_now),
    then sleeps in C keeping the GIL: on the same line, so that its frame
    is where the file says.  A SIGUSR1 that the process blocks everywhere
    else ends the sleep early (usleep returns on a signal)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1})
    while len(threading.enumerate()) < others + 2 or not all(
            t.name == "stuck" or t is threading.main_thread() or getattr(t, "parked", False)
            for t in threading.enumerate()):
        time.sleep(0.01)
    time.sleep(0.2)   # from the flag into Event.wait's lock
    stacks_now(path); ctypes.PyDLL(None).usleep(int(seconds * 1e6))  # noqa: E702


def wärme(ev):
    """A name of 1-byte characters that are not ASCII ..."""
    threading.current_thread().parked = True
    热(ev)


def 热(ev):
    """... of 2-byte ones ..."""
    𠀀(ev)


def 𠀀(ev):
    """... and of 4-byte ones."""
    ev.wait()


def park_flagged(ev):
    threading.current_thread().parked = True
    ev.wait()
