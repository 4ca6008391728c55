"""Imported by slow_import.py; see there."""
import os
import time

print("importing", flush=True)
_go = os.environ["PEEKA_TEST_GO"]
_end = time.monotonic() + 30
while not os.path.exists(_go) and time.monotonic() < _end:
    time.sleep(0.01)


def f(x):
    return x + 1
