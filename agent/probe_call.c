/* A hooked function that carries a trace, stack or monitor probe (with or
 * without watch probes) comes here from observe_call.  The watch-only path
 * stays in watch.c, as short as it was.
 *
 * Order around the original call, each part inside the observation guard:
 * watch AtEnter and stack records and the trace's events on; the call; the
 * events off (always, whatever happened); then monitor's counters, trace
 * and watch exit records, with the call's exception kept aside. */
#include "watch.h"
#include "monitor.h"
#include "stack.h"
#include "trace.h"
#include "watch_async.h"

static int kinds_of(const hooked *h)
{
    int kinds = 0;
    for (int i = 0; i < h->nprobes; i++)
        if (!h->probes[i]->done)
            kinds |= 1 << h->probes[i]->kind;
    return kinds;
}

/* Everything after the original call, inside one guard: the trace's
 * events off first, then (unless the function was unhooked or the session
 * is ending meanwhile) the exit observations. */
static void after_call(call *c, PyObject **res, trace_run *tr, int64_t t0, int64_t t1, int kinds)
{
    hooked *h = c->h;
    int live = !h->dead && !observe_stopping();
    int watch = live && (kinds & (1 << PK_WATCH));
    int watch_exit = watch && watch_wants(h, *res ? AT_EXIT : AT_EXCEPTION);
    /* a coroutine's outcome is its end's, whichever of the two is wanted */
    int follow = watch && *res && h->is_coro && PyCoro_CheckExact(*res) &&
                 (watch_exit || watch_wants(h, AT_EXCEPTION));
    if (!tr->p && !watch_exit && !follow && !(live && (kinds & (1 << PK_MONITOR))))
        return;
    observe_guard g;
    observe_enter(&g);
    if (tr->p)
        trace_stop(tr, t1);
    if (!live) {
        trace_discard(tr);
        observe_leave(&g);
        return;
    }
    if (kinds & (1 << PK_MONITOR))
        monitor_account(h, c->cost, *res != NULL);
    c->ret = *res;
    c->exc = observe_exception(&g);
    if (tr->p)
        trace_emit(tr, c);
    if (follow) {
        PyObject *followed = watch_async_follow(c, t0, *res);
        if (followed) {
            Py_DECREF(*res);
            *res = followed;
            watch_exit = 0;
        }
    }
    if (watch_exit)
        watch_observe(c, *res ? AT_EXIT : AT_EXCEPTION);
    observe_leave(&g);
}

PyObject *probe_call(hooked *h, PyObject *callable, PyObject *const *args,
                     size_t nargsf, PyObject *kwnames)
{
    int kinds = kinds_of(h);
    if (!kinds || observe_paused())
        return h->orig(callable, args, nargsf, kwnames);

    call c;
    int64_t t0 = observe_call_begin(&c, h, args, nargsf, kwnames);
    trace_run tr = {NULL};
    int watch_enter = (kinds & (1 << PK_WATCH)) && watch_wants(h, AT_ENTER);
    if (watch_enter || (kinds & ((1 << PK_STACK) | (1 << PK_TRACE)))) {
        observe_guard g;
        observe_enter(&g);
        if (watch_enter)
            watch_observe(&c, AT_ENTER);
        if (kinds & (1 << PK_STACK))
            stack_observe(&c);
        if (watch_enter || (kinds & (1 << PK_STACK)))
            t0 = now_mono_ns();   /* the entry records are not the call's time */
        if (kinds & (1 << PK_TRACE))
            trace_begin(&tr, &c);
        observe_leave(&g);
    }
    PyObject *res = h->orig(callable, args, nargsf, kwnames);
    int64_t t1 = now_mono_ns();
    c.cost = t1 - t0;
    after_call(&c, &res, &tr, t0, t1, kinds);
    observe_call_end(&c);
    return res;
}
