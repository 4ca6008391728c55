"""Functions the thread, top, stack and monitor tests look for by name."""
import ctypes
import os
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
