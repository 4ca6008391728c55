"""Attach-mode target whose module is still being imported when peeka
arrives: si_slow's body prints 'importing' and waits for the file named by
$PEEKA_TEST_GO before it defines f.  Then f is called exactly N times (argv[1])
through every kind of reference, and the target reports the spec's class."""
import importlib.machinery
import sys
import time

import si_slow
from si_slow import f as alias_f

n = int(sys.argv[1])
for i in range(n // 2):
    si_slow.f(i)
for i in range(n - n // 2):
    alias_f(i)
spec_ok = type(si_slow.__spec__) is importlib.machinery.ModuleSpec
print("calls %d spec %s" % (n, "OK" if spec_ok else type(si_slow.__spec__).__name__), flush=True)
while True:
    time.sleep(0.1)
