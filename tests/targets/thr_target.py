"""Target of test_thread_top: `many N` parks N named threads on an Event
(and says ready once all of them wait in the kernel);
`stuck GO SECONDS` has a thread hold the GIL in C once the file GO exists;
`outside STACKS` has a thread hold the GIL in C once two others are
parked (one under non-ASCII names), after writing every stack to STACKS,
until a SIGUSR1 to the process;
`busy` runs one thread in thr.funcs.hot and three idle ones; `fork GO`
forks once GO exists; `calls` (launch
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



def blocked(t):
    """Thread t sits in a system call (for a parked thread: the futex)."""
    with open("/proc/self/task/%d/syscall" % t.native_id) as f:
        return not f.read().startswith(("running", "-1"))


def wait_parked(ev, workers):
    """Until every worker waits on ev in the kernel: Thread.start only
    promises that it began, and a snapshot must find it parked."""
    end = time.monotonic() + 60
    while time.monotonic() < end:
        if len(ev._cond._waiters) == len(workers) and all(blocked(t) for t in workers):
            return
        time.sleep(0.01)
    raise SystemExit("the workers never parked")


ev = threading.Event()
if mode == "many":
    workers = [threading.Thread(target=funcs.park, args=(ev,), name="w-%03d" % i, daemon=True)
               for i in range(int(sys.argv[2]))]
    for t in workers:
        t.start()
    wait_parked(ev, workers)
elif mode == "stuck":
    threading.Thread(target=funcs.hold_gil_in_c, args=(sys.argv[2], float(sys.argv[3])), name="stuck",
                     daemon=True).start()
    threading.Thread(target=funcs.park, args=(ev,), name="parked", daemon=True).start()
elif mode == "outside":
    # SIGUSR1 is for the stuck thread alone (it unblocks it): its C call
    # returns, and the agent can get in for a second look
    import signal
    signal.signal(signal.SIGUSR1, lambda *_: None)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    threading.Thread(target=funcs.hold_gil_reporting, args=(sys.argv[2], 60, 2), name="stuck",
                     daemon=True).start()
    threading.Thread(target=funcs.park_flagged, args=(ev,), name="parked", daemon=True).start()
    threading.Thread(target=funcs.wärme, args=(ev,), name="deep", daemon=True).start()
elif mode == "busy":
    threading.Thread(target=funcs.hot, name="burner", daemon=True).start()
    for i in range(3):
        threading.Thread(target=funcs.park, args=(ev,), name="idle-%d" % i, daemon=True).start()
elif mode == "fork":
    # once GO exists: fork while the sampler may hold the GIL; the child
    # reports its own tasks (none of peeka's) and exits
    import os
    print("waiting", flush=True)
    while not os.path.exists(sys.argv[2]):
        time.sleep(0.01)
    pid = os.fork()
    if pid == 0:
        t = threading.Thread(target=funcs.leaf, args=(1,))
        t.start()
        t.join()
        end = time.monotonic() + 5   # a joined thread's task may take a moment to go
        while len(os.listdir("/proc/self/task")) > 1 and time.monotonic() < end:
            time.sleep(0.01)
        print("child tasks %d" % len(os.listdir("/proc/self/task")), flush=True)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    print("child status %d" % status, flush=True)
print("ready", flush=True)
time.sleep(3600)
