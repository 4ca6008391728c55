"""Forks while recorded (tests/e2e/test_fork.py).

Before any attach the parent takes a snapshot of everything peeka touches:
the observed functions and their code, the class dict entries and the
property's getter, sys.meta_path, atexit's callback count (3.14+),
sys.getprofile(),
the sys.monitoring tool ids (3.12+) and its fds.  Each SIGUSR1 starts a
round that a peeka-rec started by the test records (the round waits until
the recorder's HOOKS functions are hooked), each SIGUSR2 a round nobody
records.  A round makes a known number of calls, forks from inside a
watched and traced call while a helper thread is inside another watched
call, makes more calls and waits for the child.

The child makes calls of the parent's probes, compares itself with the
snapshot and reports, then waits: SIGUSR2 says finish, SIGUSR1 says a
recorder of its own is attaching.  Then it makes known calls, returns
through the parent's hooked frame while that recorder still records, makes
the rest of its calls, waits for the recorder to leave and reports again."""
import atexit
import os
import signal
import sys
import threading
import time

from fk import funcs
from fk.funcs import work as alias_work

HOOKS = int(sys.argv[1])        # functions the parent's recorder hooks
PARENT_WORK_BEFORE = 12         # funcs.work calls through the module, before the fork
PARENT_ALIAS = 3                # through `from fk.funcs import work`
PARENT_WORK_AFTER = 5           # after the fork
TRACED = 3                      # funcs.traced calls
LEAVES = 4                      # funcs.leaf calls
CHILD_OTHER = (4, 3)            # funcs.other calls the child's own recording sees:
                                # inside the parent's hooked frame, after returning from it
CHILD_WORK = 9                  # calls of the parent's probes in the child


def say(line):
    """One write(2) per line: parent and child share the output file, and
    print() may write a line and its newline separately."""
    os.write(1, (line + "\n").encode())


def prof(frame, event, arg):
    """The program's own profiler: a fork inside a traced call must leave it."""


def observed():
    d = funcs.Shape.__dict__
    return {
        "work": funcs.work, "alias": alias_work, "other": funcs.other, "leaf": funcs.leaf,
        "traced": funcs.traced, "slow": funcs.slow, "spawn": funcs.spawn,
        "init": d["__init__"], "area": d["area"], "make": d["make"], "make.func": d["make"].__func__,
        "unit": d["unit"], "unit.func": d["unit"].__func__, "label": d["label"],
        "label.fget": d["label"].fget,
    }


def fds():
    out = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            out[fd] = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            pass
    return out


def snapshot():
    snap = {}
    for name, obj in observed().items():
        snap["obj:" + name] = obj
        if hasattr(obj, "__code__"):
            snap["code:" + name] = obj.__code__
    mon = getattr(sys, "monitoring", None)
    snap["meta_path"] = tuple(map(id, sys.meta_path))
    # before 3.14 atexit.unregister leaves an empty slot that _ncallbacks() counts
    snap["atexit"] = atexit._ncallbacks() if sys.version_info >= (3, 14) else None
    snap["profile"] = sys.getprofile()
    snap["tools"] = tuple(mon.get_tool(i) for i in range(6)) if mon else ()
    snap["fds"] = fds()
    return snap


def differences(base, now):
    bad = []
    for key, was in base.items():
        same = now[key] is was if key.startswith(("obj:", "code:")) or key == "profile" else now[key] == was
        if not same:
            bad.append(key)
    return bad


def agent_status():
    agent = sys.modules.get("_peeka_agent")
    return agent.status() if agent else {"active": False, "hooks": 0, "observations": 0, "drops": 0}


def report(who):
    st = agent_status()
    say("%s pid=%d diff=%s threads=%d active=%s hooks=%d observations=%d drops=%d" % (
        who, os.getpid(), ",".join(differences(BASE, snapshot())) or "none",
        len(os.listdir("/proc/self/task")), st["active"], st["hooks"], st["observations"],
        st["drops"]))


def wait_agent(hooks):
    """Until a recorder's probes are in: hooks are installed in one go."""
    while not (agent_status()["active"] and agent_status()["hooks"] == hooks):
        time.sleep(0.005)


def wait_detached():
    while agent_status()["active"]:
        time.sleep(0.005)


orders = []


def next_order():
    while not orders:
        time.sleep(0.005)
    return orders.pop(0)


def calls_of_parent_probes(n):
    for i in range(n):
        funcs.work(i)
    funcs.traced(2)
    funcs.leaf(1)
    s = funcs.Shape.make("c")
    s.area(), s.label, funcs.Shape.unit()


child_order = []


def child_main():
    """The child, inside the parent's hooked funcs.spawn frame."""
    calls_of_parent_probes(CHILD_WORK)
    report("CHILD")
    import fk.later    # the parent's pending probe must not catch it
    fk.later.f()
    report("CHILD-IMPORTED")
    child_order.append(next_order())
    if child_order[0] == "record":
        say("CHILD waiting pid=%d" % os.getpid())
        wait_agent(1)
        calls_of_parent_probes(CHILD_WORK)   # recorded by nobody
        for i in range(CHILD_OTHER[0]):
            funcs.other(i)


def child_after_return():
    """Back through the parent's hook, which must not emit, even into the
    child's own recording."""
    say("CHILD-RETURNED pid=%d" % os.getpid())
    if child_order[0] == "record":
        for i in range(CHILD_OTHER[0], sum(CHILD_OTHER)):
            funcs.other(i)
        wait_detached()
        report("CHILD-AFTER")
    os._exit(0)


def one_round(recorded):
    if recorded:
        say("ROUND waiting")
        wait_agent(HOOKS)
    s = funcs.Shape("p")
    for i in range(PARENT_WORK_BEFORE):
        funcs.work(i)
    for i in range(PARENT_ALIAS):
        alias_work(100 + i)
    for _ in range(TRACED):
        funcs.traced(LEAVES)
    for i in range(LEAVES):
        funcs.leaf(i)
    s.area(), funcs.Shape.make("m"), funcs.Shape.unit(), s.label
    entered, release = threading.Event(), threading.Event()
    helper = threading.Thread(target=funcs.slow, args=(entered, release), name="helper")
    helper.start()
    entered.wait()
    pid = funcs.spawn(child_main)
    if pid == 0:
        child_after_return()
    release.set()
    helper.join()
    for i in range(PARENT_WORK_AFTER):
        funcs.work(1000 + i)
    say("PARENT done child=%d" % pid)
    _, status = os.waitpid(pid, 0)
    say("CHILD-EXIT pid=%d status=%d" % (pid, status))


sys.setprofile(prof)
signal.signal(signal.SIGUSR1, lambda signum, frame: orders.append("record"))
signal.signal(signal.SIGUSR2, lambda signum, frame: orders.append("plain"))
BASE = snapshot()
say("ready")
while True:
    one_round(next_order() == "record")
