def work(i):
    return i * 2
