/* What watch.c shares with watch_async.c. */
#ifndef PEEKA_WATCH_H
#define PEEKA_WATCH_H

#include "agent.h"

enum where { AT_ENTER, AT_EXIT, AT_EXCEPTION };

typedef struct {
    hooked *h;
    PyObject *const *args;
    Py_ssize_t nargs;
    PyObject *kwnames;
    int64_t wall, cost;
    PyObject *ret, *exc;
} call;

/* Emits the records the probes on c->h want at `at`; GIL held. */
void watch_observe(const call *c, enum where at);
/* async def: returns a coroutine that awaits `coro` and reports its
 * outcome through watch_observe, or NULL (then report `coro` itself). */
PyObject *watch_async_wrap(const call *c, int64_t t0, PyObject *coro);
/* Python helper objects the agent defines from source, once. */
PyObject *agent_pyhelper(const char *src, const char *name);

#endif
