"""A workload for compare: handle() takes about DELAY ms (a sleep, so CPU
noise on the test machine does not decide the verdict), called N times."""
import sys
import time

from wt import funcs


def main():
    delay, n = float(sys.argv[1]), int(sys.argv[2])
    for i in range(n):
        funcs.handle(i, delay)
        funcs.add(i, 1)


main()
