"""Main thread in one long time.sleep(); a worker thread computes."""
import threading
import time
from attach_common import args, ready, finish, heartbeat, check_slept

path, seconds, _ = args()
stop = False
result = {}


def work():
    n = total = beats = 0
    next_beat = time.monotonic() + 0.1
    while not stop:
        n += 1
        total += n
        if n % 20000 == 0 and time.monotonic() >= next_beat:
            beats += 1
            heartbeat(beats)
            next_beat = time.monotonic() + 0.1
    result["ok"] = total == n * (n + 1) // 2


t = threading.Thread(target=work)
t.start()
ready(path)
t0 = time.monotonic()
time.sleep(seconds)
check_slept(t0, seconds, "time.sleep")
stop = True
t.join()
finish(result.get("ok"), "worker sum wrong")
