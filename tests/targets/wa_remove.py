"""Target for removing a watch probe from an async def while one of its
coroutines is suspended (a fake recorder drives the agent: test_watch_async).

  wa_remove.py BUILD SOCKET: loads the agent and starts it on SOCKET; once
  the recorder installed its probes, awaits double(0), starts double(1)
  and prints "suspended"; reads a line from stdin (the recorder removed the
  watch probe meanwhile), awaits double(1) and double(2), prints what it
  got and "done", and exits 0 once the agent has detached."""
import asyncio
import importlib.machinery
import importlib.util
import sys
import time
import weakref

from wa import funcs

tag = "cp%d%d" % sys.version_info[:2]
path = sys.argv[1] + "/lib/peeka/agent/" + tag + "/_peeka_agent.so"
loader = importlib.machinery.ExtensionFileLoader("_peeka_agent", path)
agent = importlib.util.module_from_spec(importlib.util.spec_from_file_location("_peeka_agent", path, loader=loader))
loader.exec_module(agent)
agent.start(sys.argv[2], "tok")
while not agent.status()["hooks"]:
    time.sleep(0.01)


def local_events():
    """The events left on double's code for peeka's tool (3.12+)."""
    mon = getattr(sys, "monitoring", None)
    if not mon:
        return "n/a"
    tool = [i for i in range(6) if mon.get_tool(i) == "peeka"]
    return "%d tool=%s" % (mon.get_local_events(tool[0], funcs.double.__code__) if tool else -1,
                           "peeka" if tool else "none")


async def main():
    first = await funcs.double(0)
    coro = funcs.double(1)
    task = asyncio.ensure_future(coro)
    await asyncio.sleep(0)
    print("suspended", flush=True)
    sys.stdin.readline()
    held = weakref.getweakrefcount(coro)   # 3.12+: the agent's entry for it is gone
    second = await task
    third = await funcs.double(2)
    print("results %d %d %d weakrefs=%d local=%s" % (first, second, third, held, local_events()),
          flush=True)


asyncio.run(main())
print("done", flush=True)
for _ in range(500):
    if not agent.status()["active"]:
        break
    time.sleep(0.01)
print("detached active=%s hooks=%d" % (agent.status()["active"], agent.status()["hooks"]), flush=True)
