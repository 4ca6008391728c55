"""Functions with a known call-tree shape for trace, stack and monitor."""
import math


def leaf(x):
    return x + 1


def middle(x):
    return leaf(x) + leaf(x + 1)


def root(n):
    total = 0
    for i in range(n):
        total += middle(i)
    return total + int(math.sqrt(16))


def fact(n):
    return 1 if n <= 1 else n * fact(n - 1)


def raiser(x):
    raise ValueError("bad %d" % x)


def catcher():
    try:
        leaf(1)
        raiser(2)
    except ValueError:
        pass
    return leaf(3)


def failing():
    leaf(0)
    middle(1)
    raiser(5)


def gen(n):
    for i in range(n):
        yield leaf(i)


def consume(n):
    return sum(gen(n))


def stack_a():
    return stack_b()


def stack_b():
    return stack_c()


def stack_c():
    return 42


def work(x):
    if x % 3 == 0:
        raise KeyError(x)
    return x


def busy():
    return sum(middle(i) for i in range(20))


def slow(s):
    import time
    time.sleep(s)


def fold_root():
    leaf(1)
    middle(2)
    slow(0.03)
    return 0
