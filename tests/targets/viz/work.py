"""Functions viz_calls.py calls a known number of times, for the viewer
scripts' tests (flamegraph, speedscope, chrometrace, timeline)."""
import time


def leaf(x):
    return x * 2


def parse(x):
    return leaf(x) + 1


def render(x):
    time.sleep(0.002)
    return leaf(x) + leaf(x)


def handle(x, fast=False):
    return (0 if fast else parse(x)) + render(x)


def tick(x):
    time.sleep(0.001)
    return x
