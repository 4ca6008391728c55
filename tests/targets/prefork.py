"""A prefork server shaped like gunicorn: the master forks 2 workers that
call wt.funcs.add all the time while the master itself only waits.  Prints
'workers PID PID' and 'ready' once both workers are calling."""
import os
import signal
import sys
import time

from wt import funcs

pipe_r, pipe_w = os.pipe()
workers = []
for _ in range(2):
    pid = os.fork()
    if pid == 0:
        os.close(pipe_r)
        os.write(pipe_w, b"x")
        while True:
            funcs.add(1, 2)
            time.sleep(0.001)
    workers.append(pid)
os.close(pipe_w)
for _ in workers:
    os.read(pipe_r, 1)


def stop(*_):
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
print("workers %d %d" % tuple(workers), flush=True)
print("ready", flush=True)
while True:
    time.sleep(0.1)
