"""Single thread, pure-Python busy loop: it never blocks, rarely syscalls."""
import time
from attach_common import args, ready, finish, heartbeat

path, seconds, _ = args()
ready(path)
end = time.monotonic() + seconds
n = total = beats = 0
next_beat = time.monotonic() + 0.1
while True:
    n += 1
    total += n * 3
    if n % 20000 == 0:
        now = time.monotonic()
        if now >= end:
            break
        if now >= next_beat:
            beats += 1
            heartbeat(beats)
            next_beat = now + 0.1
finish(total == 3 * n * (n + 1) // 2, "sum %d wrong for n=%d" % (total, n))
