/* Watch on an `async def`, CPython 3.8-3.11 (no sys.monitoring): the call
 * hands the program a proxy written in C that stands in for its coroutine.
 * Every way of driving a coroutine goes through the proxy: `await` (its
 * __await__ is itself, an iterator), send, throw, close, and on 3.10+ the
 * am_send slot that asyncio's Task and the interpreter's SEND use.  Each
 * is forwarded to the coroutine; the step after which the coroutine has
 * finished is its outcome.  Being C, the proxy adds no frame: tracebacks
 * are the program's.  Every attribute but those four is the coroutine's,
 * __class__ included, so isinstance(x, types.CoroutineType), inspect and
 * asyncio.iscoroutine say what they would; type(x) is the proxy's.
 *
 * Measured against the other way (docs/architecture.md): a PEP 523 frame
 * evaluation function replaces no object, but costs every Python call in
 * the interpreter while installed (+10-40% on 3.11, where it turns off
 * inlined calls), needs CPython's internal headers and shares one slot
 * with debuggers that use it. */
#include "watch_async.h"
#include "dispatch.h"

#if PY_VERSION_HEX < 0x030C0000

typedef struct {
    PyObject_HEAD
    PyObject *coro;             /* the program's coroutine */
    async_call call;            /* until its outcome was reported (call.h NULL after) */
    PyObject *weakrefs;
} coro_proxy;

typedef enum { STEP_NEXT, STEP_RETURN, STEP_ERROR } step;

/* A step's result as a coroutine method gives it (a value yielded, or NULL
 * with StopIteration carrying the return value, or another exception) in
 * the form of PyIter_Send. */
static step of_method_result(PyObject *r, PyObject **out)
{
    *out = r;
    if (r)
        return STEP_NEXT;
    if (!PyErr_ExceptionMatches(PyExc_StopIteration))
        return STEP_ERROR;
    return _PyGen_FetchStopIterationValue(out) == 0 ? STEP_RETURN : STEP_ERROR;
}

static step send_into(PyObject *coro, PyObject *arg, PyObject **out)
{
#if PY_VERSION_HEX >= 0x030A0000
    PySendResult r = PyIter_Send(coro, arg, out);
    return r == PYGEN_NEXT ? STEP_NEXT : r == PYGEN_RETURN ? STEP_RETURN : STEP_ERROR;
#else
    return of_method_result(_PyGen_Send((PyGenObject *)coro, arg), out);
#endif
}

/* Has the coroutine run to its end?  An exception out of a step does not
 * say: "already executing", or throw() refusing its arguments, leave it. */
static int finished(PyObject *coro)
{
    kept_exc k;
    exc_keep(&k);
    PyObject *f = PyObject_GetAttrString(coro, "cr_frame");
    int done = f == Py_None;
    Py_XDECREF(f);
    exc_restore(&k);
    return done;
}

/* After each step: the outcome, once the coroutine finished.  A coroutine
 * closed unfinished (GeneratorExit) is not reported, as one destroyed. */
static void settle(coro_proxy *p, step s, PyObject *value)
{
    if (!p->call.h || s == STEP_NEXT)
        return;
    if (s == STEP_RETURN) {
        async_call_report(&p->call, value, NULL);
    } else {
        if (!finished(p->coro))
            return;
        kept_exc k;
        exc_keep(&k);
        PyObject *exc = exc_value(&k);
        if (exc && !PyErr_GivenExceptionMatches(exc, PyExc_GeneratorExit))
            async_call_report(&p->call, NULL, exc);
        exc_restore(&k);
    }
    async_call_release(&p->call);
}

/* A step as a Python method returns it: StopIteration(value) at the end. */
static PyObject *as_method_result(step s, PyObject *value)
{
    if (s != STEP_RETURN)
        return value;
    _PyGen_SetStopIterationValue(value);
    Py_DECREF(value);
    return NULL;
}

static PyObject *proxy_send(PyObject *self, PyObject *arg)
{
    coro_proxy *p = (coro_proxy *)self;
    PyObject *value;
    step s = send_into(p->coro, arg, &value);
    settle(p, s, value);
    return as_method_result(s, value);
}

static PyObject *proxy_iternext(PyObject *self)
{
    return proxy_send(self, Py_None);
}

static PyObject *proxy_throw(PyObject *self, PyObject *args)
{
    coro_proxy *p = (coro_proxy *)self;
    PyObject *meth = PyObject_GetAttrString(p->coro, "throw");
    PyObject *value;
    step s = of_method_result(meth ? PyObject_Call(meth, args, NULL) : NULL, &value);
    Py_XDECREF(meth);
    settle(p, s, value);
    return as_method_result(s, value);
}

static PyObject *proxy_close(PyObject *self, PyObject *unused)
{
    (void)unused;
    coro_proxy *p = (coro_proxy *)self;
    PyObject *r = PyObject_CallMethod(p->coro, "close", NULL);
    if (r && p->call.h && finished(p->coro))
        async_call_release(&p->call);   /* closed unfinished */
    else if (!r)
        settle(p, STEP_ERROR, NULL);
    return r;
}

#if PY_VERSION_HEX >= 0x030A0000
static PySendResult proxy_am_send(PyObject *self, PyObject *arg, PyObject **result)
{
    coro_proxy *p = (coro_proxy *)self;
    step s = send_into(p->coro, arg, result);
    settle(p, s, *result);
    return s == STEP_NEXT ? PYGEN_NEXT : s == STEP_RETURN ? PYGEN_RETURN : PYGEN_ERROR;
}
#endif

/* `await proxy`: the proxy is its own iterator.  Awaiting a coroutine that
 * something awaits already is refused the way CPython refuses it. */
static PyObject *proxy_await(PyObject *self)
{
    coro_proxy *p = (coro_proxy *)self;
    PyObject *yf = PyObject_GetAttrString(p->coro, "cr_await");
    if (!yf)
        return NULL;
    int busy = yf != Py_None;
    Py_DECREF(yf);
    if (busy) {
        PyErr_SetString(PyExc_RuntimeError, "coroutine is being awaited already");
        return NULL;
    }
    Py_INCREF(self);
    return self;
}

/* `yield from` in a generator-based coroutine asks for an iterator. */
static PyObject *proxy_iter(PyObject *self)
{
    Py_INCREF(self);
    return self;
}

static int own_name(PyObject *name)
{
    static const char *const own[] = {"send", "throw", "close", "__await__"};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, own[i]) == 0)
            return 1;
    return 0;
}

static PyObject *proxy_getattro(PyObject *self, PyObject *name)
{
    if (own_name(name))
        return PyObject_GenericGetAttr(self, name);
    return PyObject_GetAttr(((coro_proxy *)self)->coro, name);
}

static int proxy_setattro(PyObject *self, PyObject *name, PyObject *value)
{
    return PyObject_SetAttr(((coro_proxy *)self)->coro, name, value);
}

static PyObject *proxy_repr(PyObject *self)
{
    return PyObject_Repr(((coro_proxy *)self)->coro);
}

static Py_hash_t proxy_hash(PyObject *self)
{
    return PyObject_Hash(((coro_proxy *)self)->coro);
}

static int proxy_traverse(PyObject *self, visitproc visit, void *arg)
{
    coro_proxy *p = (coro_proxy *)self;
    Py_VISIT(p->coro);
    return async_call_traverse(&p->call, visit, arg);
}

static int proxy_clear(PyObject *self)
{
    coro_proxy *p = (coro_proxy *)self;
    async_call_release(&p->call);
    Py_CLEAR(p->coro);
    return 0;
}

/* The coroutine goes with the proxy: unfinished, it is not reported; never
 * started, it warns "was never awaited" as it would have. */
static void proxy_dealloc(PyObject *self)
{
    PyObject_GC_UnTrack(self);
    if (((coro_proxy *)self)->weakrefs)
        PyObject_ClearWeakRefs(self);
    proxy_clear(self);
    PyObject_GC_Del(self);
}

static PyMethodDef proxy_methods[] = {
    {"send", proxy_send, METH_O, NULL},
    {"throw", proxy_throw, METH_VARARGS, NULL},
    {"close", proxy_close, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyAsyncMethods proxy_async = {
    .am_await = proxy_await,
#if PY_VERSION_HEX >= 0x030A0000
    .am_send = proxy_am_send,
#endif
};

static PyTypeObject proxy_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_peeka_agent.coroutine",
    .tp_basicsize = sizeof(coro_proxy),
    .tp_dealloc = proxy_dealloc,
    .tp_as_async = &proxy_async,
    .tp_repr = proxy_repr,
    .tp_hash = proxy_hash,
    .tp_getattro = proxy_getattro,
    .tp_setattro = proxy_setattro,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = proxy_traverse,
    .tp_clear = proxy_clear,
    .tp_weaklistoffset = offsetof(coro_proxy, weakrefs),
    .tp_iter = proxy_iter,
    .tp_iternext = proxy_iternext,
    .tp_methods = proxy_methods,
};

PyObject *watch_async_follow(const call *c, int64_t t0, PyObject *coro)
{
    if (PyType_Ready(&proxy_type) < 0) {
        PyErr_Clear();
        return NULL;
    }
    coro_proxy *p = PyObject_GC_New(coro_proxy, &proxy_type);
    if (!p) {
        PyErr_Clear();
        return NULL;
    }
    p->weakrefs = NULL;
    p->call.h = NULL;
    Py_INCREF(coro);
    p->coro = coro;
    if (async_call_init(&p->call, c, t0) < 0) {
        Py_DECREF(p);   /* untracked: dealloc's untrack is harmless */
        return NULL;
    }
    PyObject_GC_Track(p);
    return (PyObject *)p;
}

/* Nothing to set up beyond the hook: the proxy is made per call. */
int observe_probes_changed(hooked *h, probe *added)
{
    (void)h, (void)added;
    return 0;
}

void watch_async_probe_free(probe *p)
{
    (void)p;
}

#endif
