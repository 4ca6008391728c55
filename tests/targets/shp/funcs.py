"""One function per way CPython calls a Python function (see shapes.py)."""
import functools


def plain(x):
    return x + 1


def via_partial(x, y):
    return x + y


def from_c(x):
    return -x


def gen(n):
    yield from range(n)


class Desc:
    def __get__(self, obj, owner=None):
        return 7


class Base:
    def greet(self, x):
        return x


class C(Base):
    d = Desc()

    def __init__(self, v=0):
        self._v = v

    def meth(self, x):
        return x * 2

    @classmethod
    def cm(cls, x):
        return x

    @staticmethod
    def sm(x):
        return x

    @property
    def prop(self):
        return self._v

    @prop.setter
    def prop(self, v):
        self._v = v

    def __call__(self, x):
        return x

    def __getattr__(self, name):
        return name

    def __eq__(self, other):
        return True

    __hash__ = object.__hash__

    def __len__(self):
        return 3

    def __getitem__(self, k):
        return k

    def greet(self, x):
        return super().greet(x)


class Slotted:
    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v


@functools.lru_cache(maxsize=None)
def cached(x):
    return x
