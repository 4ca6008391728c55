/* The part of watching an `async def` that both mechanisms share (see
 * watch_async.h): keeping a call until its coroutine finished. */
#include "watch_async.h"
#include "watch.h"

int async_call_init(async_call *a, const call *c, int64_t t0)
{
    Py_ssize_t nk = c->kwnames ? PyTuple_GET_SIZE(c->kwnames) : 0;
    PyObject *argv = PyTuple_New(c->nargs + nk);
    if (!argv) {
        PyErr_Clear();
        return -1;
    }
    for (Py_ssize_t i = 0; i < c->nargs + nk; i++) {
        Py_INCREF(c->args[i]);
        PyTuple_SET_ITEM(argv, i, c->args[i]);
    }
    a->argv = argv;
    a->nargs = c->nargs;
    a->kwnames = c->kwnames;
    Py_XINCREF(a->kwnames);
    a->wall = c->wall;
    a->t0 = t0;
    a->h = c->h;
    hooked_call_begin(a->h);   /* the hook outlives the coroutine (hooks.h) */
    return 0;
}

void async_call_report(const async_call *a, PyObject *ret, PyObject *exc)
{
    hooked *h = a->h;
    if (!h || h->dead || observe_paused())
        return;
    call c = {h, ((PyTupleObject *)a->argv)->ob_item, a->nargs, a->kwnames, a->wall,
              now_mono_ns() - a->t0, exc ? NULL : ret, exc};
    observe_guard g;
    observe_enter(&g);
    watch_observe(&c, exc ? AT_EXCEPTION : AT_EXIT);
    observe_leave(&g);
}

void async_call_release(async_call *a)
{
    hooked *h = a->h;
    if (!h)
        return;
    a->h = NULL;
    PyObject *argv = a->argv, *kwnames = a->kwnames;
    a->argv = a->kwnames = NULL;
    hooked_call_end(h);
    Py_XDECREF(argv);
    Py_XDECREF(kwnames);
}

int async_call_traverse(const async_call *a, visitproc visit, void *arg)
{
    Py_VISIT(a->argv);
    Py_VISIT(a->kwnames);
    return 0;
}
