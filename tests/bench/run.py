#!/usr/bin/env python3
"""make bench: every benchmark, each printing ratios against a baseline
measured in the same run.  Usage: tests/bench/run.py [watch|throughput|async|attach|analyze|trace|redact|top|compare|logcapture]..."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BENCHES = {"attach": "attach_bench.py", "watch": "watch_bench.py", "async": "async_bench.py",
           "analyze": "analyze_bench.py", "trace": "trace_bench.py", "redact": "redact_bench.py",
           "top": "top_bench.py", "compare": "compare_bench.py", "logcapture": "logcapture_bench.py",
           "throughput": "throughput_bench.py"}


def main():
    chosen = sys.argv[1:] or list(BENCHES)
    failed = 0
    for name in chosen:
        print("== %s" % name, flush=True)
        rc = subprocess.run([sys.executable, os.path.join(HERE, BENCHES[name])], check=False).returncode
        failed += rc != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
