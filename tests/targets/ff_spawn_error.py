"""Under --follow-forks (tests/e2e/test_follow_forks_exec.py): a
multiprocessing.util.spawnv_passfds that fails before it forks (a file
descriptor that is no number) raises its own error through peeka's wrapper."""
import multiprocessing.util
import sys
import types

from ff import funcs

funcs.work(0)
wrapped = not isinstance(multiprocessing.util.spawnv_passfds, types.FunctionType)
try:
    multiprocessing.util.spawnv_passfds(sys.executable.encode(), [sys.executable], ["not-a-fd"])
    print("no error", flush=True)
except ValueError as e:
    print("wrapped=%d raised %s" % (wrapped, type(e).__name__), flush=True)
