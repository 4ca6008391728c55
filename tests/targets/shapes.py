"""Calls every function of shp.funcs through one call shape each, exactly N
times per shape.  With `attach GOFILE`, every call site first runs 300 times
(warm: specialised on 3.11+), the target prints 'warm' and waits for GOFILE,
then makes the counted calls and prints 'done'."""
import functools
import os
import sys
import time

from shp import funcs
from shp.funcs import C, plain as alias_plain

N = int(sys.argv[1])
registry = {"h": funcs.plain}
part = functools.partial(funcs.via_partial, 1)
obj = C(1)
bound = obj.meth


def shapes():
    """(name, callable making one call of that shape)"""
    def set_prop():
        obj.prop = 5
    return [
        ("module attribute", lambda: funcs.plain(1)),
        ("alias taken before", lambda: alias_plain(1)),
        ("stored in a dict", lambda: registry["h"](1)),
        ("functools.partial", lambda: part(2)),
        ("method", lambda: obj.meth(1)),
        ("bound method stored", lambda: bound(1)),
        ("classmethod", lambda: C.cm(1)),
        ("staticmethod", lambda: C.sm(1)),
        ("property getter", lambda: obj.prop),
        ("property setter", set_prop),
        ("__init__ via Class()", lambda: C(2)),
        ("__call__", lambda: obj(1)),
        ("__getattr__", lambda: obj.missing),
        ("__eq__ via ==", lambda: obj == 1),
        ("__len__ via len()", lambda: len(obj)),
        ("__getitem__ via []", lambda: obj[1]),
        ("super() call", lambda: obj.greet(1)),
        ("from C (map)", lambda: list(map(funcs.from_c, (1,)))),
        ("generator", lambda: list(funcs.gen(2))),
        ("lru_cache wrapped", lambda: (funcs.cached.cache_clear(), funcs.cached(1))),
    ]


def run(times):
    for _, call in shapes():
        for _ in range(times):
            call()


if len(sys.argv) > 2 and sys.argv[2] == "attach":
    run(300)
    print("warm", flush=True)
    go = sys.argv[3]
    end = time.monotonic() + 60
    while not os.path.exists(go) and time.monotonic() < end:
        time.sleep(0.01)
    run(N)
    print("done", flush=True)
    while True:
        time.sleep(0.1)
else:
    run(N)
    print("done", flush=True)
