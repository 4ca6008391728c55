"""The functions watch_bench.py observes (imported, so they have a module
name a probe can use: a launched script's own functions live in __main__)."""


def f(a, b):
    return a + b


def g(a, b):
    return a + b
