"""Threads start and finish all the time; MODE "busy" adds computing threads."""
import threading
import time
from attach_common import args, ready, finish, heartbeat

path, seconds, mode = args()
done = []
stop = False


def short(i):
    s = 0
    for k in range(200):
        s += k
    done.append(s == 19900)


def spin():
    n = 0
    while not stop:
        n += 1


spinners = [threading.Thread(target=spin) for _ in range(3 if mode == "busy" else 0)]
for t in spinners:
    t.start()
ready(path)
end = time.monotonic() + seconds
started = beats = 0
next_beat = time.monotonic() + 0.1
while time.monotonic() < end:
    batch = [threading.Thread(target=short, args=(started + i,)) for i in range(4)]
    for t in batch:
        t.start()
    for t in batch:
        t.join()
    started += len(batch)
    if time.monotonic() >= next_beat:
        beats += 1
        heartbeat(beats)
        next_beat = time.monotonic() + 0.1
stop = True
for t in spinners:
    t.join()
finish(len(done) == started and all(done), "%d of %d threads ok" % (sum(done), started))
