/* The `_peeka_agent` extension module: start() is what the bootstrap calls;
 * the rest is for the atexit hook and for tests. */
#include "session.h"
#include "hooks.h"
#include "wrapper.h"
#include "peeka_limits.h"

static PyObject *agent_start(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *names[] = {"socket", "token", "buffer_bytes", "wait_ms", NULL};
    const char *path, *token;
    Py_ssize_t buffer = PEEKA_BUFFER_DEFAULT;
    int wait_ms = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "ss|ni", names, &path, &token, &buffer, &wait_ms))
        return NULL;
    if (buffer < 64 * 1024 || buffer > ((Py_ssize_t)1 << 30)) {
        PyErr_SetString(PyExc_ValueError, "buffer_bytes must be between 64 KiB and 1 GiB");
        return NULL;
    }
    session_opts o = {path, token, (size_t)buffer, wait_ms};
    if (session_start(&o) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *agent_atexit(PyObject *self, PyObject *unused)
{
    (void)self; (void)unused;
    session_shutdown();
    Py_RETURN_NONE;
}

static PyObject *agent_after_fork(PyObject *self, PyObject *unused)
{
    (void)self; (void)unused;
    session_after_fork();
    Py_RETURN_NONE;
}

static PyObject *agent_purge_py(PyObject *self, PyObject *unused)
{
    (void)self; (void)unused;
    return agent_purge();
}

static PyObject *agent_status(PyObject *self, PyObject *unused)
{
    (void)self; (void)unused;
    return Py_BuildValue("{s:O,s:i,s:L,s:L}", "active", g_agent.active ? Py_True : Py_False,
                         "hooks", hooks_count(), "observations", (long long)g_agent.emitted,
                         "drops", (long long)g_agent.drops);
}

/* Py_AddPendingCall's callback, on the main thread with the GIL: an
 * exception must not reach whatever code the main thread was running. */
static int call_pending(void *arg)
{
    PyObject *fn = arg;
    PyObject *r = PyObject_CallObject(fn, NULL);
    Py_XDECREF(r);
    Py_DECREF(fn);
    PyErr_Clear();
    return 0;
}

/* peeka_agent.uninstall() off the main thread: signal.signal() is allowed
 * only there, and a pending call runs there at its next bytecode boundary,
 * without a signal of its own that could swallow one of the program's. */
static PyObject *agent_call_in_main(PyObject *self, PyObject *fn)
{
    (void)self;
    if (!PyCallable_Check(fn)) {
        PyErr_SetString(PyExc_TypeError, "_call_in_main() wants a callable");
        return NULL;
    }
    Py_INCREF(fn);
    if (Py_AddPendingCall(call_pending, fn) < 0) {
        Py_DECREF(fn);
        Py_RETURN_FALSE;   /* the queue is full: the caller keeps its fallback */
    }
    Py_RETURN_TRUE;
}

static PyMethodDef methods[] = {
    {"start", (PyCFunction)(void (*)(void))agent_start, METH_VARARGS | METH_KEYWORDS,
     "start(socket, token, buffer_bytes=16 MiB, wait_ms=0): connect to peeka-rec"},
    {"_atexit", agent_atexit, METH_NOARGS, "detach before the interpreter exits"},
    {"_after_fork", agent_after_fork, METH_NOARGS, "in a child forked while recorded: be as if never attached"},
    {"purge", agent_purge_py, METH_NOARGS,
     "peeka-rec --uninstall: remove what recordings left behind; returns what was removed"},
    {"status", agent_status, METH_NOARGS, "the agent's state, for tests"},
    {"_call_in_main", agent_call_in_main, METH_O,
     "run fn() on the main thread at its next bytecode boundary; False when that cannot be queued"},
    {NULL, NULL, 0, NULL}
};

static struct PyModuleDef moddef = {
    PyModuleDef_HEAD_INIT, "_peeka_agent",
    "peeka's in-process agent: observes chosen functions for peeka-rec.", -1, methods,
    NULL, NULL, NULL, NULL
};

PyMODINIT_FUNC PyInit__peeka_agent(void);

__attribute__((visibility("default"))) PyMODINIT_FUNC PyInit__peeka_agent(void)
{
    PyObject *m = PyModule_Create(&moddef);
    if (!m)
        return NULL;
    if (wrapper_ready() < 0 || PyModule_AddStringConstant(m, "__version__", PEEKA_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
