"""The function detached-session and ring tests watch: step(i) returns i."""


def step(i):
    return i
