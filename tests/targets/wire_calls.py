"""test_wire.py: the same calls every run, through every shape of record the
compact wire form writes (positional, keywords, *args, a method, an
exception, another thread, a renamed thread), and with `fork` a forked
child making calls of its own."""
import os
import sys
import threading

import wire_funcs as w


def calls(n):
    for i in range(n):
        w.add(i, 10)
        w.kw(i, c=2)
        w.star(i, 1, 2)
        w.Thing().method(i)
        try:
            w.fails(i)
        except ValueError:
            pass
    w.outer(3)


calls(300)
t = threading.Thread(target=calls, args=(50,), name="wire-helper")
t.start()
t.join()
threading.current_thread().name = "renamed-main"
calls(300)
if sys.argv[1:] == ["fork"]:
    pid = os.fork()
    if pid == 0:
        calls(20)
        sys.exit(0)   # atexit: the agent sends what is left
    os.waitpid(pid, 0)
print("calls done", flush=True)
