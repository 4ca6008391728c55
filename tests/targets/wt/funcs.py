"""Functions of every shape watch must observe, with known results."""
import asyncio
import functools
import time


def add(x, y):
    return x + y


def kw(a, b=2, *, c=3):
    return a + b + c


def boom(n):
    if n % 2:
        raise ValueError("odd %d" % n)
    return n


def big(n):
    return {"s": "x" * 1500, "l": list(range(30)), "b": b"\x00\x01" * 3, "bb": b"z" * 200,
            "set": {1}, "nan": float("nan"), "inf": float("-inf"), "deep": [[[[n]]]]}


class BadRepr:
    def __repr__(self):
        raise RuntimeError("no repr for you")


def takes_bad(obj):
    return 1


class Shape:
    sides = 0

    def __init__(self, name):
        self.name = name
        self._secret = 1

    def area(self, scale=1):
        return 10 * scale

    @classmethod
    def make(cls, name):
        return cls(name)

    @staticmethod
    def unit():
        return "cm"

    @property
    def label(self):
        return "shape:" + self.name

    class Inner:
        def deep(self):
            return "inner"


def logged(fn):
    @functools.wraps(fn)
    def wrapper(*a, **k):
        return fn(*a, **k)
    return wrapper


@logged
def decorated(v):
    return v * 2


@functools.lru_cache(maxsize=None)
def cached(v):
    return v + 1


async def slow_double(v):
    await asyncio.sleep(0.02)
    return v * 2


async def slow_fail(v):
    await asyncio.sleep(0.01)
    raise KeyError(v)


def gen(n):
    for i in range(n):
        yield i


def handle(i, delay_ms):
    time.sleep(delay_ms / 1000)
    return i
