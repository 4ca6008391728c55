"""Target for the attach routes.  argv: MODE GOFILE N.  The target prints
'ready' once settled, waits for GOFILE to exist, makes exactly N calls of
rx.mod.work, prints 'done' and waits to be stopped.

MODE busy:    the main thread waits in a short sleep loop (runs Python often)
MODE worker:  the main thread is blocked in join(); a worker thread waits in
              the sleep loop and makes the calls
MODE idle:    the main thread is blocked in select() on the FIFO at GOFILE
              (no Python runs until the test writes to it), then makes the calls
MODE gilhold: a thread named "holder" prints 'ready' and its native id, sleeps 60 s in a C
              call that keeps the GIL (ctypes.PyDLL); no call is made
"""
import ctypes
import os
import select
import sys
import threading
import time

from rx import mod

mode, go, n = sys.argv[1], sys.argv[2], int(sys.argv[3])


def calls():
    for i in range(n):
        mod.work(i)
    print("done", flush=True)


def poll_then_call():
    while not os.path.exists(go):
        time.sleep(0.005)
    calls()


if mode == "busy":
    print("ready", flush=True)
    poll_then_call()
elif mode == "worker":
    t = threading.Thread(target=poll_then_call)
    t.start()
    print("ready", flush=True)
    t.join()
elif mode == "idle":
    os.mkfifo(go)
    fd = os.open(go, os.O_RDWR)   # does not wait for a writer
    print("ready", flush=True)
    select.select([fd], [], [])
    calls()
elif mode == "gilhold":
    def hold():
        print("ready", threading.get_native_id(), flush=True)
        ctypes.PyDLL(None).sleep(60)   # PyDLL: the GIL stays held
    threading.Thread(target=hold, name="holder").start()
time.sleep(60)
