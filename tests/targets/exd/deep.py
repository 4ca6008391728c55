def top(n):
    return down(n)


def down(n):
    if n == 0:
        raise KeyError("bottom")   # the raise: line 7
    return down(n - 1)
