class App:
    def handle(self, x):
        return x


def run(n):
    return App().handle(n)
