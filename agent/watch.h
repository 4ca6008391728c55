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

/* `{"type":"observation","kind":…,"probe_id":…,…,"func_name":…` */
void write_record_head(jsonw *w, const char *kind, probe *p, const call *c);
/* Emits the records the probes on c->h want at `at`; GIL held. */
void watch_observe(const call *c, enum where at);
/* async def: returns a coroutine that awaits `coro` and reports its
 * outcome through watch_observe, or NULL (then report `coro` itself). */
PyObject *watch_async_wrap(const call *c, int64_t t0, PyObject *coro);
/* Record pieces and the condition check, shared with stack.c and trace.c. */
void write_seconds(jsonw *w, int64_t ns);
void write_ms(jsonw *w, int64_t ns);
void write_args(jsonw *w, const call *c, int depth);
int  condition_holds(probe *p, const call *c);

/* The call's pending exception, kept aside while a record is formatted. */
#if PY_VERSION_HEX >= 0x030C0000
#define SAVE_EXC(e) PyObject *e = PyErr_GetRaisedException()
#define RESTORE_EXC(e) PyErr_SetRaisedException(e)
#define EXC_VALUE(e) (e)
#else
#define SAVE_EXC(e) PyObject *e##_t, *e##_v, *e##_tb; \
    PyErr_Fetch(&e##_t, &e##_v, &e##_tb); PyErr_NormalizeException(&e##_t, &e##_v, &e##_tb); \
    if (e##_v && e##_tb) PyException_SetTraceback(e##_v, e##_tb)
#define RESTORE_EXC(e) PyErr_Restore(e##_t, e##_v, e##_tb)
#define EXC_VALUE(e) (e##_v)
#endif

/* Python helper objects the agent defines from source, once. */
PyObject *agent_pyhelper(const char *src, const char *name);

#endif
