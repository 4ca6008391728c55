"""Every thread asleep.  MODE: sleep, join, select, event, asyncio, http."""
import threading
import time
from attach_common import args, ready, finish, check_slept

path, seconds, mode = args()


def idle_sleep():
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
    if sel.select(seconds):
        finish(False, "select reported an event")
    sel.close()
    a.close()
    b.close()


def idle_event():
    if threading.Event().wait(seconds):
        finish(False, "Event.wait returned True")


def idle_asyncio():
    import asyncio

    async def main():
        await asyncio.sleep(seconds)
    asyncio.run(main())


def idle_http():
    import http.server
    srv = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Timer(seconds, srv.shutdown).start()
    srv.serve_forever(poll_interval=seconds)
    srv.server_close()


modes = {"sleep": idle_sleep, "join": idle_join, "select": idle_select,
         "event": idle_event, "asyncio": idle_asyncio, "http": idle_http}
t0 = time.monotonic()
if mode != "join":
    ready(path)
modes[mode]()
check_slept(t0, seconds, mode)
finish(True)
