"""What tests/targets/installed_app.py calls, a known number of times."""


def work(n):
    return n * 2


def other(a, b=1):
    return a + b


class Slow:
    """Its repr (watch --repr) blocks until the file RELEASE exists: a hook
    stays inside user code while the recorder detaches."""
    release = None

    def __repr__(self):
        import os
        import time
        print("in repr", flush=True)
        while not os.path.exists(Slow.release):
            time.sleep(0.01)
        return "Slow()"


def stuck(x):
    return 1
