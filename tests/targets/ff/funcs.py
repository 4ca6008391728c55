"""What tests/targets/follow_forks.py calls, a known number of times."""


def work(n):
    return n + 1


def child_only(n):
    return -n
