"""Functions observed while their probes' conditions run slow user code."""
import time

SLOW_S = 0.4


class Slow:
    """A value whose str() takes SLOW_S seconds (and releases the GIL)."""

    def __str__(self):
        time.sleep(SLOW_S)
        return "a"


def traced(x):
    return 1


def watched(x):
    return 2


def stacked(x):
    return 3


def __getattr__(name):
    # PEP 562: looking up the missing name Missing is slow, so an install
    # that fails on it fails while calls of the probes before it run.
    if name == "Missing":
        time.sleep(0.3)
    raise AttributeError(name)
