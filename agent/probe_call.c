/* A hooked function that carries a trace, stack or monitor probe (with or
 * without watch probes) comes here from watch_call.  The watch-only path
 * stays in watch.c, untouched and as short as it was.
 *
 * Order around the original call: watch AtEnter and stack records, then
 * the trace's profile function on, the call, the profile function off
 * (always, whatever happened), monitor's counters, then watch exit and
 * trace records with the call's exception kept aside. */
#include "watch.h"
#include "monitor.h"
#include "stack.h"
#include "trace.h"

static int kinds_of(const hooked *h, int *watch_enter)
{
    int kinds = 0;
    *watch_enter = 0;
    for (int i = 0; i < h->nprobes; i++) {
        const probe *p = h->probes[i];
        if (p->done)
            continue;
        kinds |= 1 << p->kind;
        if (p->kind == PK_WATCH && p->at_enter)
            *watch_enter = 1;
    }
    return kinds;
}

static int watch_wants_exit(const hooked *h, int ok)
{
    for (int i = 0; i < h->nprobes; i++) {
        const probe *p = h->probes[i];
        if (p->kind == PK_WATCH && !p->done && (ok ? p->at_success : p->at_exception))
            return 1;
    }
    return 0;
}

static void at_entry(call *c, int kinds, int watch_enter)
{
    thread_set_reentered(1);
    if (watch_enter)
        watch_observe(c, AT_ENTER);
    if (kinds & (1 << PK_STACK))
        stack_observe(c);
    PyErr_Clear();
    thread_set_reentered(0);
}

static PyObject *at_exit(call *c, PyObject *res, trace_run *tr, int64_t t0)
{
    hooked *h = c->h;
    int watch_exit = watch_wants_exit(h, res != NULL);
    if (watch_exit && res && h->is_coro && PyCoro_CheckExact(res)) {
        PyObject *wrapped = watch_async_wrap(c, t0, res);
        if (wrapped) {
            Py_DECREF(res);
            res = wrapped;
            watch_exit = 0;
        }
    }
    if (!watch_exit && !tr->p)
        return res;
    thread_set_reentered(1);
    SAVE_EXC(saved);
    c->ret = res;
    c->exc = res ? NULL : EXC_VALUE(saved);
    if (tr->p)
        trace_emit(tr, c);
    if (watch_exit)
        watch_observe(c, res ? AT_EXIT : AT_EXCEPTION);
    PyErr_Clear();
    RESTORE_EXC(saved);
    thread_set_reentered(0);
    return res;
}

PyObject *probe_call(hooked *h, PyObject *callable, PyObject *const *args,
                     size_t nargsf, PyObject *kwnames)
{
    int watch_enter;
    int kinds = kinds_of(h, &watch_enter);
    if (!kinds || atomic_load_explicit(&g_agent.stopping, memory_order_relaxed) || thread_reentered())
        return h->orig(callable, args, nargsf, kwnames);

    int64_t t0 = now_mono_ns();
    call c = {h, args, PyVectorcall_NARGS(nargsf), kwnames, wall_of_mono(t0), -1, NULL, NULL};
    if (watch_enter || (kinds & (1 << PK_STACK))) {
        at_entry(&c, kinds, watch_enter);
        t0 = now_mono_ns();   /* the entry records are not the call's time */
    }
    trace_run tr = {NULL};
    if (kinds & (1 << PK_TRACE))
        trace_begin(&tr, &c);
    h->inflight++;
    PyObject *res = h->orig(callable, args, nargsf, kwnames);
    h->inflight--;
    int64_t t1 = now_mono_ns();
    c.cost = t1 - t0;
    if (tr.p)
        trace_stop(&tr, t1);
    if (h->dead || atomic_load_explicit(&g_agent.stopping, memory_order_relaxed)) {
        if (tr.p)
            trace_discard(&tr);
        if (h->dead)
            hooks_release(h);
        return res;
    }
    if (kinds & (1 << PK_MONITOR))
        monitor_account(h, c.cost, res != NULL);
    return at_exit(&c, res, &tr, t0);
}
