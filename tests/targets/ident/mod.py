def f(a, b=1):
    return a + b


class K:
    def m(self, x):
        return x * 2
