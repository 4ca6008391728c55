/* The observation layer: what every probe kind (watch, trace, stack,
 * monitor, async watch) shares to turn a hooked call into records.
 *
 * The guard.  Any code of a hook that may run user Python code (a
 * condition, a __repr__ while formatting) or that touches probe state runs
 * between observe_enter and observe_leave.  Inside, g_agent.observing
 * counts the hook, the thread is marked reentered (hooked calls made by
 * that user code pass straight through), and the call's own pending
 * exception is kept aside and put back at leave, whatever the observation
 * raised.  Kind functions (watch_observe, stack_observe, trace_emit,
 * monitor_account) require their caller's guard; they do not nest one.
 *
 * Probe lifetime.  A probe taken off its functions (hooks_remove_probe) may
 * still be held by a hook inside the guard, which may have let the GIL go.
 * So probe state is freed only after observe_quiesce() saw no hook inside
 * the guard (commands.c: probes_retire, the one place that frees it); if a
 * hook is stuck in user code longer than that, the state is leaked, never
 * freed under it.  A hook that keeps a probe across the original call
 * (trace) checks observe_probe_on() before using it again. */
#ifndef PEEKA_OBSERVE_H
#define PEEKA_OBSERVE_H

#include "agent.h"
#include "hooks.h"

/* --follow-forks: the pid each record names (the process's own), 0 for
 * none (session.c sets it). */
extern int g_record_pid;

enum where { AT_ENTER, AT_EXIT, AT_EXCEPTION };

/* One hooked call as the records see it. */
typedef struct call {
    hooked *h;
    PyObject *const *args;
    Py_ssize_t nargs;
    PyObject *kwnames;
    int64_t wall, cost;         /* cost: -1 until the call returned */
    PyObject *ret, *exc;
} call;

static inline int observe_stopping(void)
{
    return atomic_load_explicit(&g_agent.stopping, memory_order_relaxed);
}

/* The session is ending, or this thread is inside an observation (its
 * hooked calls are the agent's own doing): calls pass straight through. */
static inline int observe_paused(void)
{
    return observe_stopping() || thread_reentered();
}

/* A hooked call that will be observed: holds h (hooks.h) until
 * observe_call_end, fills *c; returns the start time. */
static inline int64_t observe_call_begin(call *c, hooked *h, PyObject *const *args,
                                         size_t nargsf, PyObject *kwnames)
{
    hooked_call_begin(h);
    thread_hold(h);
    int64_t t0 = now_mono_ns();
    *c = (call){h, args, PyVectorcall_NARGS(nargsf), kwnames, wall_of_mono(t0), -1, NULL, NULL};
    return t0;
}

/* After this c->h may be gone. */
static inline void observe_call_end(call *c)
{
    thread_unhold(c->h);
    hooked_call_end(c->h);
}

/* A pending exception, kept aside while something else runs (the one
 * implementation: the guard below and trace's profile switch use it). */
typedef struct {
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *exc;
#else
    PyObject *t, *v, *tb;
#endif
} kept_exc;

static inline void exc_keep(kept_exc *k)
{
#if PY_VERSION_HEX >= 0x030C0000
    k->exc = PyErr_Occurred() ? PyErr_GetRaisedException() : NULL;
#else
    k->t = k->v = k->tb = NULL;
    if (PyErr_Occurred()) {
        PyErr_Fetch(&k->t, &k->v, &k->tb);
        PyErr_NormalizeException(&k->t, &k->v, &k->tb);
        if (k->v && k->tb)
            PyException_SetTraceback(k->v, k->tb);
    }
#endif
}

/* Puts the kept exception back (or none), dropping whatever is pending. */
static inline void exc_restore(kept_exc *k)
{
    PyErr_Clear();
#if PY_VERSION_HEX >= 0x030C0000
    if (k->exc)
        PyErr_SetRaisedException(k->exc);
#else
    if (k->t)
        PyErr_Restore(k->t, k->v, k->tb);
#endif
}

/* The kept exception (borrowed), or NULL. */
static inline PyObject *exc_value(const kept_exc *k)
{
#if PY_VERSION_HEX >= 0x030C0000
    return k->exc;
#else
    return k->v;
#endif
}

typedef struct {
    kept_exc exc;
} observe_guard;

static inline void observe_enter(observe_guard *g)
{
    g_agent.observing++;
    thread_set_reentered(1);
    exc_keep(&g->exc);
}

/* The call's exception kept aside by observe_enter (borrowed), or NULL. */
static inline PyObject *observe_exception(const observe_guard *g)
{
    return exc_value(&g->exc);
}

static inline void observe_leave(observe_guard *g)
{
    exc_restore(&g->exc);
    thread_set_reentered(0);
    g_agent.observing--;
}

/* Waits, GIL released, until no hook is inside the guard (at most about a
 * second); 1 when none is, 0 on timeout.  GIL held on entry and return. */
int observe_quiesce(void);

/* Is p still one of h's probes?  (h is held by the caller.) */
int observe_probe_on(const hooked *h, const probe *p);

/* What the condition language sees of c (cond.h). */
struct peeka_cond_env;
void call_env(const call *c, struct peeka_cond_env *env);

/* 1 when p has no condition or it holds for c; a failing condition counts
 * in p->cond_errors and is false.  Inside the guard. */
int condition_holds(probe *p, const call *c);

/* Record pieces (docs/format.md). */
void write_seconds(jsonw *w, int64_t ns);   /* "1763911800.123456" */
void write_ms(jsonw *w, int64_t ns);        /* milliseconds, 3 decimals */
/* `{"type":"observation","kind":…,"probe_id":…[,"cycle":…],"seq":…,
 * "ts_ns":…,"timestamp":…,"func_name":…`; cycle < 0: none. */
void write_head(jsonw *w, const char *kind, probe *p, int64_t cycle, int64_t wall,
                const char *name_json, size_t name_len);
/* write_head for a call: its start time and function. */
void write_record_head(jsonw *w, const char *kind, probe *p, const call *c);
/* `,"success":…,"throwExp":…`: exc formatted, or null */
void write_outcome(jsonw *w, int ok, PyObject *exc);
/* `,"param_names":[…],"params":[…],"kwargs":{…},"target":…`, in two
 * parts: the names (0 when known, -1 when they could not be read, then
 * none are written), then the values. */
void write_args(jsonw *w, const call *c, int depth);
int  write_args_names(jsonw *w, const call *c);
void write_args_values(jsonw *w, const call *c, int depth);
/* write_head in three parts: up to `"seq":` (a segment without a cycle), */
void write_head_start(jsonw *w, const char *kind, probe *p, int64_t cycle);
/* write_head's second and third parts: `N,"ts_ns":…,"timestamp":…` after
 * `"seq":`, and `,"func_name":…[,"pid":…]`. */
void write_head_times(jsonw *w, probe *p, int64_t wall);
void write_func_name(jsonw *w, const char *name_json, size_t name_len);

/* Builds one record of p about c into this thread's writer and hands it
 * to the ring.  When it overflows the record limit and `retry_small`, it
 * is built once more with values one level deep: a huge argument must not
 * cost the record.  Inside the guard. */
typedef void (*record_builder)(jsonw *w, probe *p, const call *c, const void *arg);
void observe_emit(probe *p, const call *c, record_builder build, const void *arg, int retry_small);

#endif
