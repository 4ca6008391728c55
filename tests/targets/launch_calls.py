"""Launch-mode target that needs no PYTHONPATH (python -I and -E ignore it):
makes BEFORE calls of wt.funcs.add, then, given GO_FILE, waits for that
file to exist; makes AFTER calls, writes GO_FILE.done when given, and exits
with STATUS.
    launch_calls.py BEFORE AFTER STATUS [GO_FILE]"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wt import funcs  # noqa: E402

before, after, status = (int(a) for a in sys.argv[1:4])
go = sys.argv[4] if len(sys.argv) > 4 else None
for i in range(before):
    funcs.add(i, 1)
while go and not os.path.exists(go):
    time.sleep(0.01)
for i in range(after):
    funcs.add(1000 + i, 1)
if go:
    with open(go + ".done", "w") as f:
        f.write("%d %d\n" % (before, after))
sys.exit(status)
