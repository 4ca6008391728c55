"""The functions async_bench.py measures: af is watched, its twins never."""


async def af(x):
    return x


async def af_plain(x):
    return x


async def wrap(coro):
    """What watch did to a coroutine before: await it from a Python one."""
    return await coro


def raiser(x):
    raise ValueError(x)


def g(a, b):
    return a + b
