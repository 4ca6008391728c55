"""async def functions for watch, with known results and known sleeps."""
import asyncio

SLEEP = 0.02


async def double(v):
    await asyncio.sleep(SLEEP)
    return v * 2


async def fail(v):
    await asyncio.sleep(0.001)
    raise KeyError(v)


async def forever():
    await asyncio.sleep(3600)


async def outer(v):
    """Not watched: its frame must show in fail's traceback as it is."""
    return await fail(v)


async def quick(v):
    return v


async def quick_fail(v):
    raise KeyError(v)


def run_double(v):
    """A plain function that runs double to its end: traced around it."""
    return asyncio.run(double(v))
