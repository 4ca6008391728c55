"""What every benchmark script shares: the interpreters to measure, the
build to use, a median, and the per-interpreter main loop."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.abspath(os.environ.get("BUILD", os.path.join(ROOT, "build")))


def interpreters():
    """(tag, path) for one interpreter per minor version, as mk/pythons.sh lists them."""
    out = subprocess.run(["sh", os.path.join(ROOT, "mk", "pythons.sh")], capture_output=True,
                         text=True, check=True).stdout
    return [line.split(" ", 1) for line in out.splitlines()]


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def per_interpreter(bench):
    """Runs bench(tag, python) for each interpreter, or those named on the command line."""
    only = sys.argv[1:]
    for tag, py in interpreters():
        if not only or tag in only:
            bench(tag, py)
