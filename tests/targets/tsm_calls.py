"""Launch-mode target for trace, stack and monitor: a fixed sequence of
calls, while another thread calls the same functions (which must never
appear in the main thread's trees).  With --profile, a Python profile
function is installed first and must see every call, during and after
tracing; with --cprofile, cProfile runs around the calls.  --fold adds
a call with one slow and several fast callees; --import-late imports the
functions only after 0.3 s."""
import sys
import threading
import time

if "--import-late" in sys.argv:
    time.sleep(0.3)   # intervals of a monitor pass while its pattern matches nothing yet
from tsm import funcs  # noqa: E402

stop = threading.Event()


def noise():
    while not stop.is_set():
        funcs.leaf(0)
        funcs.middle(0)
        stop.wait(0.0005)


seen = []


def prof(frame, event, arg):
    if event == "call":
        seen.append(frame.f_code.co_name)


def calls():
    for _ in range(2):
        funcs.root(3)
    funcs.fact(5)
    funcs.catcher()
    try:
        funcs.failing()
    except ValueError:
        pass
    funcs.consume(3)
    funcs.stack_a()
    if "--fold" in sys.argv:
        funcs.fold_root()
    for x in range(100):
        try:
            funcs.work(x)
        except KeyError:
            pass


t = threading.Thread(target=noise, name="noise", daemon=True)
if "--cprofile" not in sys.argv:   # from 3.12 cProfile counts every thread's calls
    t.start()
if "--profile" in sys.argv:
    sys.setprofile(prof)
    calls()
    after = sys.getprofile() is prof
    sys.setprofile(None)
    print("PROFILE %s middle=%d leaf=%d" % ("KEPT" if after else "LOST", seen.count("middle"),
                                           seen.count("leaf")))
elif "--cprofile" in sys.argv:
    import cProfile
    import pstats
    pr = cProfile.Profile()
    pr.enable()
    calls()
    pr.disable()
    st = pstats.Stats(pr).stats
    n = {k[2]: v[1] for k, v in st.items() if k[0].endswith("funcs.py")}
    print("CPROFILE middle=%d leaf=%d root=%d" % (n.get("middle", 0), n.get("leaf", 0), n.get("root", 0)))
else:
    calls()
stop.set()
if t.is_alive():
    t.join()
print("calls done", flush=True)
