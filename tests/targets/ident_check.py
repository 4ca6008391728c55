"""What the program sees of an observed function.  argv: GO1 GO2 N.
Prints 'ready', waits for GO1 (the recorder is in), prints 'during JSON',
makes N calls of ident.mod.f through a reference stored before the attach
and N of K.m through a stored bound method, prints 'calls', waits for GO2
(the recorder is gone) and prints 'after JSON'.  The JSON holds checks
that must be true while recorded, and a snapshot to compare after."""
import copy
import copyreg
import inspect
import json
import os
import pickle
import sys
import time
import types

from ident import mod

go1, go2, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
F = mod.f
stored = {"f": mod.f}
bound = mod.K().m
sig = str(inspect.signature(F))


def wait(path):
    while not os.path.exists(path):
        time.sleep(0.005)


def snapshot():
    return {"exact type": type(F) is types.FunctionType,
            "copyreg keys": sorted(repr(k) for k in copyreg.dispatch_table),
            "module attribute": vars(mod)["f"] is F,
            "class dict": vars(mod.K)["m"] is bound.__func__}


def during():
    checks = {
        "module attribute is the function": mod.f is F and vars(mod)["f"] is F,
        "class attribute is the function": vars(mod.K)["m"] is bound.__func__,
        "isinstance FunctionType": isinstance(F, types.FunctionType),
        "inspect.isfunction": inspect.isfunction(F),
        "type name": type(F).__name__ == "function" and repr(type(F)) == "<class 'function'>",
        "signature": str(inspect.signature(F)) == sig,
        "copy": copy.copy(F) is F and copy.deepcopy(F) is F,
        "deepcopy in a container": copy.deepcopy([F])[0] is F,
    }
    for proto in range(2, pickle.HIGHEST_PROTOCOL + 1):
        checks["pickle protocol %d" % proto] = pickle.loads(pickle.dumps(F, proto)) is F
    return checks


before = snapshot()
print("ready", flush=True)
wait(go1)
print("during " + json.dumps(during()), flush=True)
for i in range(n):
    stored["f"](i)
    bound(i)
print("calls", flush=True)
wait(go2)
after = snapshot()
print("after " + json.dumps({"same as before": after == before, "before": before, "after": after}),
      flush=True)
time.sleep(60)
