"""Target for watching async def functions: a fixed scenario of awaits,
printed as KEY value lines that must read the same with and without
peeka (the traceback byte for byte), except TYPE before 3.12.

  wa_calls.py run      the scenario once, then exit 0 (plain or launch mode)
  wa_calls.py traced   run_double(0), (1), (2): double runs inside those calls
  wa_calls.py leaks    rounds of quick, quick_fail and forever calls ending
                       every way a coroutine ends, in one event loop; a
                       LEAKS line: the quietest window's growth in
                       allocated blocks, and whether the argument's
                       reference count is what it was after the warmup
  wa_calls.py attach   print "ready"; once the agent has hooked something,
                       the scenario, then "scenario done" and a DURING
                       line: peeka's sys.monitoring events (3.12+), global
                       and on double's code; at each SIGUSR1
                       an AFTER line: what is left of peeka; exit 0 at
                       SIGTERM.  With --hog-tools (3.12+) every free
                       sys.monitoring tool id is taken first.

Calls: double 14 (13 awaited to the end, 1 never awaited), fail 2,
forever 1 (cancelled)."""
import asyncio
import gc
import inspect
import signal
import sys
import time
import traceback
import types
import warnings
import weakref

from wa import funcs

ORIG = {name: getattr(funcs, name) for name in ("double", "fail", "forever")}


def say(key, value):
    print("%s %s" % (key, value), flush=True)


async def gathered():
    return await asyncio.gather(*(funcs.double(10 + i) for i in range(3)))


async def tasks():
    ts = [asyncio.create_task(funcs.double(20 + i)) for i in range(3)]
    return [await t for t in ts]


async def waited():
    a = await asyncio.wait_for(funcs.double(30), timeout=60)
    b = await funcs.double(40)
    c = await asyncio.ensure_future(funcs.double(50))
    return [a, b, c]


async def cancelled():
    t = asyncio.create_task(funcs.forever())
    await asyncio.sleep(0)   # the task starts and suspends in its sleep
    t.cancel()
    try:
        await t
    except asyncio.CancelledError:
        return "cancelled"
    return "not cancelled"


def attributes():
    c = funcs.double(5)
    say("QUALNAME", c.__qualname__)
    say("NAME", c.__name__)
    say("CR_CODE", c.cr_code is funcs.double.__code__)
    say("ISCOROUTINE", "%s %s %s" % (inspect.iscoroutine(c), asyncio.iscoroutine(c),
                                     isinstance(c, types.CoroutineType)))
    say("TYPE", "exact" if type(c) is types.CoroutineType else "other:" + type(c).__name__)
    say("ATTRS_RESULT", asyncio.run(c))
    say("WEAKREFS_AFTER", weakref.getweakrefcount(c))


def failing():
    for run in (lambda: funcs.fail("k"), lambda: funcs.outer("n")):
        try:
            asyncio.run(run())
        except KeyError as e:
            tb = "".join(traceback.format_exception(type(e), e, e.__traceback__))
            say("TRACEBACK", repr(tb))


def never_awaited():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        c = funcs.double(99)
        ref = weakref.ref(c)
        del c
        gc.collect()
    say("NEVER", "%r %s" % ([str(w.message) for w in caught], "collected" if ref() is None else "alive"))


def scenario():
    say("RUN", [asyncio.run(funcs.double(i)) for i in range(3)])
    say("GATHER", asyncio.run(gathered()))
    say("TASKS", asyncio.run(tasks()))
    say("WAITED", asyncio.run(waited()))
    attributes()
    failing()
    say("CANCEL", asyncio.run(cancelled()))
    never_awaited()


def event_names(mask):
    names = [n for n in dir(sys.monitoring.events) if n.isupper() and n != "NO_EVENTS"]
    return "|".join(sorted(n for n in names if getattr(sys.monitoring.events, n) & mask)) or "-"


def during():
    mon = getattr(sys, "monitoring", None)
    tool = [i for i in range(6) if mon and mon.get_tool(i) == "peeka"]
    if not tool:
        return "n/a"
    return "global=%s local=%s" % (event_names(mon.get_events(tool[0])),
                                   event_names(mon.get_local_events(tool[0], funcs.double.__code__)))


async def one_round(arg):
    for _ in range(50):
        await funcs.quick(arg)
    try:
        await funcs.quick_fail(arg)
    except KeyError:
        pass
    t = asyncio.ensure_future(funcs.forever())
    await asyncio.sleep(0)
    t.cancel()
    try:
        await t
    except asyncio.CancelledError:
        pass
    funcs.quick(arg).close()          # closed before it started
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        funcs.quick(arg)              # never awaited
    c = funcs.forever()
    c.send(None)                      # suspended in its sleep, then dropped
    del c


async def leaks(warmup=40, rounds=30, windows=3):
    """Caches fill up and then stop (or grow in bursts); a leak of one
    block per call grows every window by at least `rounds` * 50.  So the
    quietest of three windows tells a leak from a cache."""
    arg = [1, 2]
    quietest, last, refs = None, 0, 0
    for i in range(warmup + windows * rounds + 1):
        if i >= warmup and (i - warmup) % rounds == 0:
            gc.collect()
            now = sys.getallocatedblocks()
            if i > warmup and (quietest is None or now - last < quietest):
                quietest = now - last
            last = now
            if i == warmup:
                refs = sys.getrefcount(arg)   # its references now include what asyncio keeps
        await one_round(arg)
    gc.collect()
    say("LEAKS", "quietest=%d refs=%s" % (quietest, "same" if sys.getrefcount(arg) == refs else "changed"))


def after(signum, frame):
    """What peeka left: monitoring events and tool ids (3.12+), the
    functions, the hooks, and what calling the function gives now."""
    mon = getattr(sys, "monitoring", None)
    events, tools = 0, []
    if mon:
        for tool in range(6):
            events |= mon.get_events(tool)
            for f in ORIG.values():
                events |= mon.get_local_events(tool, f.__code__)
        tools = [mon.get_tool(i) for i in range(6)]
    c = funcs.double(1)
    exact = type(c) is types.CoroutineType
    c.close()
    agent = sys.modules.get("_peeka_agent")
    bad = [k for k in ORIG if getattr(funcs, k) is not ORIG[k]]
    say("AFTER", "events=%d tools=%s type=%s identity=%s hooks=%d" % (
        events, "HELD" if "peeka" in tools else "FREE", "exact" if exact else "other",
        "OK" if not bad else "CHANGED", agent.status()["hooks"] if agent else 0))


if sys.argv[1] == "run":
    scenario()
    print("scenario done", flush=True)
elif sys.argv[1] == "traced":
    say("TRACED", [funcs.run_double(i) for i in range(3)])
elif sys.argv[1] == "leaks":
    asyncio.run(leaks())
else:
    signal.signal(signal.SIGUSR1, after)
    if "--hog-tools" in sys.argv and hasattr(sys, "monitoring"):
        for tool in range(6):
            if sys.monitoring.get_tool(tool) is None:
                sys.monitoring.use_tool_id(tool, "hog")
    print("ready", flush=True)
    while not (sys.modules.get("_peeka_agent") and sys.modules["_peeka_agent"].status()["hooks"]):
        time.sleep(0.01)
    scenario()
    print("scenario done", flush=True)
    say("DURING", during())
    while True:
        time.sleep(0.05)
