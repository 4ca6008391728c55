"""The functions test_wire.py records with the compact wire form and with literal
JSON (wire_calls.py calls them)."""


def add(a, b):
    return a + b


def kw(a, *, c=1):
    return a + c


def star(a, *rest):
    return len(rest)


def fails(x):
    raise ValueError("bad %r" % (x,))


def outer(n):
    return sum(add(i, 1) for i in range(n))


class Thing:
    def method(self, x):
        return x * 2
