/* async def functions: the call returns a coroutine at once; what a user
 * wants to see is the time until that coroutine finishes and what it
 * returned or raised.  The hook hands back a coroutine that awaits the
 * original one and reports through a small C callable holding the call. */
#include "watch.h"

static const char awaiter_src[] =
"async def _peeka_awaited(coro, done):\n"
"    try:\n"
"        result = await coro\n"
"    except BaseException as e:\n"
"        done(None, e)\n"
"        raise\n"
"    done(result, None)\n"
"    return result\n";

static PyObject *awaiter;

typedef struct {
    PyObject_HEAD
    hooked *h;
    PyObject *argv;      /* tuple: positional args, then keyword values */
    Py_ssize_t nargs;
    PyObject *kwnames;
    int64_t wall, t0;
    int fired;
} pending_call;

static void pc_dealloc(PyObject *self)
{
    pending_call *pc = (pending_call *)self;
    if (!pc->fired)   /* never awaited to the end: just let go of the hook */
        hooked_call_end(pc->h);
    Py_XDECREF(pc->argv);
    Py_XDECREF(pc->kwnames);
    PyObject_Free(self);
}

static PyObject *pc_call(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)kw;
    pending_call *pc = (pending_call *)self;
    PyObject *result, *exc;
    if (pc->fired || !PyArg_UnpackTuple(args, "done", 2, 2, &result, &exc))
        Py_RETURN_NONE;
    pc->fired = 1;
    hooked *h = pc->h;
    call c = {h, &PyTuple_GET_ITEM(pc->argv, 0), pc->nargs, pc->kwnames, pc->wall,
              now_mono_ns() - pc->t0, result == Py_None && exc != Py_None ? NULL : result,
              exc == Py_None ? NULL : exc};
    if (!h->dead && !observe_paused()) {
        observe_guard g;
        observe_enter(&g);
        watch_observe(&c, c.exc ? AT_EXCEPTION : AT_EXIT);
        observe_leave(&g);
    }
    hooked_call_end(h);
    Py_RETURN_NONE;
}

static PyTypeObject pending_call_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_peeka_agent.pending_call",
    .tp_basicsize = sizeof(pending_call),
    .tp_dealloc = pc_dealloc,
    .tp_call = pc_call,
    .tp_flags = Py_TPFLAGS_DEFAULT,
};

static int ready(void)
{
    if (!(pending_call_type.tp_flags & Py_TPFLAGS_READY))
        if (PyType_Ready(&pending_call_type) < 0)
            return -1;
    if (!awaiter && !(awaiter = agent_pyhelper(awaiter_src, "_peeka_awaited")))
        return -1;
    return 0;
}

PyObject *watch_async_wrap(const call *c, int64_t t0, PyObject *coro)
{
    if (ready() < 0) {
        PyErr_Clear();
        return NULL;
    }
    Py_ssize_t nk = c->kwnames ? PyTuple_GET_SIZE(c->kwnames) : 0;
    pending_call *pc = PyObject_New(pending_call, &pending_call_type);
    if (!pc) {
        PyErr_Clear();
        return NULL;
    }
    pc->h = c->h;
    pc->nargs = c->nargs;
    pc->kwnames = c->kwnames;
    Py_XINCREF(pc->kwnames);
    pc->wall = c->wall;
    pc->t0 = t0;
    pc->fired = 0;
    pc->argv = PyTuple_New(c->nargs + nk);
    hooked_call_begin(c->h);   /* the hook outlives the coroutine (hooks.h) */
    if (!pc->argv) {
        Py_DECREF(pc);
        PyErr_Clear();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < c->nargs + nk; i++) {
        Py_INCREF(c->args[i]);
        PyTuple_SET_ITEM(pc->argv, i, c->args[i]);
    }
    PyObject *wrapped = PyObject_CallFunctionObjArgs(awaiter, coro, (PyObject *)pc, NULL);
    Py_DECREF(pc);
    if (!wrapped)
        PyErr_Clear();
    return wrapped;
}
