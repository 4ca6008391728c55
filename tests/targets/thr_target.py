"""Target of test_thread_top: `many N` parks N named threads on an Event;
`stuck GO SECONDS` has a thread hold the GIL in C once the file GO exists;
`busy` runs one thread in thr.funcs.hot and three idle ones; `calls` (launch
mode) calls thr.funcs.leaf from two call paths, 3 and 2 times."""
import sys
import threading
import time

from thr import funcs

mode = sys.argv[1]
if mode == "calls":
    for _ in range(3):
        funcs.from_a()
    for _ in range(2):
        funcs.from_b()
    time.sleep(0.5)   # monitor: one more interval ends while the program runs
    print("calls done", flush=True)
    sys.exit(0)

ev, stop = threading.Event(), threading.Event()
if mode == "many":
    for i in range(int(sys.argv[2])):
        threading.Thread(target=funcs.park, args=(ev,), name="w-%03d" % i, daemon=True).start()
elif mode == "stuck":
    threading.Thread(target=funcs.hold_gil_in_c, args=(sys.argv[2], float(sys.argv[3])), name="stuck",
                     daemon=True).start()
    threading.Thread(target=funcs.park, args=(ev,), name="parked", daemon=True).start()
elif mode == "busy":
    threading.Thread(target=funcs.hot, args=(stop,), name="burner", daemon=True).start()
    for i in range(3):
        threading.Thread(target=funcs.park, args=(ev,), name="idle-%d" % i, daemon=True).start()
print("ready", flush=True)
time.sleep(3600)
