"""A busy multi-threaded target: worker threads call watched functions all
the time, threads come and go, the main thread sleeps."""
import threading
import time

from wt import funcs

stop = False


def worker():
    s = funcs.Shape("w")
    while not stop:
        for i in range(200):
            funcs.add(i, 1)
            s.area()
        time.sleep(0.001)


def churn():
    while not stop:   # short-lived threads appear and finish all the time
        t = threading.Thread(target=funcs.add, args=(1, 1))
        t.start()
        t.join()
        time.sleep(0.005)


for i in range(3):
    threading.Thread(target=worker, name="worker-%d" % i, daemon=True).start()
threading.Thread(target=churn, name="churn", daemon=True).start()
print("ready", flush=True)
while True:
    time.sleep(0.1)
