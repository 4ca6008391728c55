"""Every thread asleep.  MODE: sleep, join, select, event, asyncio, http.

Each mode says it is ready only once everything it opens is open (sockets,
the selector, the event loop, the timer thread): the tests take their fd and
thread baselines then, and anything new after that is peeka's."""
import threading
import time
from attach_common import args, ready, finish, check_slept

path, seconds, mode = args()


def idle_sleep():
    ready(path)
    time.sleep(seconds)


def idle_join():
    t = threading.Thread(target=time.sleep, args=(seconds,))
    t.start()
    ready(path)
    t.join()


def idle_select():
    import selectors
    import socket
    a, b = socket.socketpair()
    sel = selectors.DefaultSelector()
    sel.register(a, selectors.EVENT_READ)
    ready(path)
    if sel.select(seconds):
        finish(False, "select reported an event")
    sel.close()
    a.close()
    b.close()


def idle_event():
    ev = threading.Event()
    ready(path)
    if ev.wait(seconds):
        finish(False, "Event.wait returned True")


def idle_asyncio():
    import asyncio

    async def main():
        ready(path)   # the loop's selector and self-pipe exist by now
        await asyncio.sleep(seconds)
    asyncio.run(main())


def idle_http():
    import http.server
    srv = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Timer(seconds, srv.shutdown).start()
    ready(path)
    srv.serve_forever(poll_interval=seconds)
    srv.server_close()


modes = {"sleep": idle_sleep, "join": idle_join, "select": idle_select,
         "event": idle_event, "asyncio": idle_asyncio, "http": idle_http}
t0 = time.monotonic()
modes[mode]()
check_slept(t0, seconds, mode)
finish(True)
