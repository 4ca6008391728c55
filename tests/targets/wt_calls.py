"""Launch-mode target: makes a known set of calls once, then exits 0
(or with the status given as argv[1])."""
import asyncio
import sys
import threading

from wt import funcs
from wt.funcs import add as alias_add


def main():
    for i in range(5):
        funcs.add(i, 10)
    alias_add(100, 1)
    funcs.kw(1, c=5)
    for n in range(4):
        try:
            funcs.boom(n)
        except ValueError:
            pass
    funcs.big(7)
    funcs.takes_bad(funcs.BadRepr())
    s = funcs.Shape.make("sq")
    s.area(scale=2)
    funcs.Shape.unit()
    s.label
    funcs.Shape.Inner().deep()
    funcs.decorated(21)
    funcs.cached(1)
    asyncio.run(funcs.slow_double(4))
    try:
        asyncio.run(funcs.slow_fail("k"))
    except KeyError:
        pass
    list(funcs.gen(3))
    t = threading.Thread(target=funcs.add, args=(7, 7), name="helper-thread")
    t.start()
    t.join()
    print("calls done", flush=True)
    sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)


main()
