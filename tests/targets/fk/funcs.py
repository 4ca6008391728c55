"""Functions the fork tests observe (tests/e2e/test_fork.py, fork_round.py)."""
import os


def work(i):
    return i + 1


def other(i):
    return i * 2


def leaf(x):
    return x + 1


def inner(x):
    return x * 3


def traced(n):
    total = 0
    for i in range(n):
        total += inner(i)
    return total


def slow(entered, release):
    """Held open by a helper thread while the main thread forks."""
    entered.set()
    release.wait()
    return "slow"


def spawn(child_main):
    """Forks from inside a watched and traced call: the child runs its whole
    life inside this frame, then returns through the parent's hook."""
    pid = os.fork()
    if pid == 0:
        child_main()
    return pid


class Shape:
    def __init__(self, name):
        self.name = name

    def area(self):
        return 10

    @classmethod
    def make(cls, name):
        return cls(name)

    @staticmethod
    def unit():
        return "cm"

    @property
    def label(self):
        return "shape:" + self.name
