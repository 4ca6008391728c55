/* watch on an `async def`: the call returns a coroutine at once; what a
 * user wants is the time until that coroutine finished and what it
 * returned or raised.  The program must see its own coroutine, names and
 * tracebacks unchanged, so the outcome is observed from the side:
 *   3.12+     watch_async_events.c: sys.monitoring events on the code
 *             object; the call hands back the program's coroutine itself
 *   3.8-3.11  watch_async_proxy.c: a C awaitable standing in for the
 *             coroutine, forwarding everything to it and adding no frame
 * docs/architecture.md says what still differs on each. */
#ifndef PEEKA_WATCH_ASYNC_H
#define PEEKA_WATCH_ASYNC_H

#include "observe.h"

/* One call whose coroutine has not finished yet: what its records need,
 * and a hold on the hooked function (hooks.h) until released. */
typedef struct {
    hooked *h;                  /* NULL once released */
    PyObject *argv;             /* tuple: positional args, then keyword values */
    Py_ssize_t nargs;
    PyObject *kwnames;
    int64_t wall, t0;
} async_call;

/* Copies c's arguments and holds c->h.  -1 when out of memory (error
 * cleared, nothing held). */
int  async_call_init(async_call *a, const call *c, int64_t t0);
/* The coroutine finished: returned `ret` or raised `exc`.  Emits the
 * watch records unless the function was unhooked or the session is
 * ending meanwhile.  Outside the guard (it takes one). */
void async_call_report(const async_call *a, PyObject *ret, PyObject *exc);
/* Lets go of the arguments and of h; again does nothing.  May run the
 * program's code (the arguments' finalizers). */
void async_call_release(async_call *a);
int  async_call_traverse(const async_call *a, visitproc visit, void *arg);

/* c returned the coroutine `coro`: follows it to its end.  Returns what the
 * hooked call hands the program (new reference): on 3.12+ `coro` itself,
 * before that the proxy; or NULL when it cannot be followed (then report
 * `coro` itself).  Runs none of the program's code. */
PyObject *watch_async_follow(const call *c, int64_t t0, PyObject *coro);

/* commands.c: p's state goes (3.12+: its hold on the sys.monitoring tool). */
void watch_async_probe_free(probe *p);

#endif
