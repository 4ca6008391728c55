/* The agent's sys.monitoring tool, shared by its users (monitoring.h). */
#include "monitoring.h"

#if PY_VERSION_HEX >= 0x030C0000

#include <stdio.h>

PyObject *mon_missing;

/* Unnamed ids first; 2 (PROFILER_ID, cProfile's), 1 (COVERAGE_ID) and
 * 0 (DEBUGGER_ID) last, so that a tool started later still finds its own. */
static const int tool_order[] = {4, 3, 5, 2, 1, 0};

static const char *const ev_names[MEV_COUNT] = {"PY_START", "PY_RESUME", "PY_THROW", "PY_RETURN",
                                                "PY_YIELD", "PY_UNWIND", "CALL", "C_RETURN", "C_RAISE"};

static struct {
    PyObject *set_events, *set_local_events, *register_callback, *free_tool_id;   /* strong */
    PyObject *cb[MEV_COUNT];            /* strong: the callback of each event */
    long bit[MEV_COUNT];                /* sys.monitoring.events.X */
    int tool;                           /* -1: not held */
    int holds[MON_USERS];
    mon_handler handler[MON_USERS];     /* set while the user holds the tool */
    long global[MON_USERS];             /* events each user wants everywhere */
    long mask;                          /* the global events set now */
} M = {.tool = -1};

/* Every event goes to each user holding the tool; what a user did not ask
 * for (another user's event, another code object) it ignores. */
static void dispatch(enum mon_event ev, PyObject *const *args, Py_ssize_t nargs)
{
    for (int u = 0; u < MON_USERS; u++)
        if (M.handler[u])
            M.handler[u](ev, args, nargs);
}

/* One callback per event: sys.monitoring does not say which event fired. */
#define CALLBACK(e)                                                                      \
    static PyObject *cb_##e(PyObject *self, PyObject *const *args, Py_ssize_t nargs)     \
    {                                                                                    \
        (void)self;                                                                      \
        dispatch(e, args, nargs);                                                        \
        Py_RETURN_NONE;                                                                  \
    }
CALLBACK(MEV_START) CALLBACK(MEV_RESUME) CALLBACK(MEV_THROW) CALLBACK(MEV_RETURN)
CALLBACK(MEV_YIELD) CALLBACK(MEV_UNWIND) CALLBACK(MEV_CALL) CALLBACK(MEV_C_RETURN)
CALLBACK(MEV_C_RAISE)
#undef CALLBACK

#define DEF(e) {"peeka_" #e, (PyCFunction)(void (*)(void))cb_##e, METH_FASTCALL, NULL}
static PyMethodDef cb_defs[MEV_COUNT] = {
    DEF(MEV_START), DEF(MEV_RESUME), DEF(MEV_THROW), DEF(MEV_RETURN), DEF(MEV_YIELD),
    DEF(MEV_UNWIND), DEF(MEV_CALL), DEF(MEV_C_RETURN), DEF(MEV_C_RAISE),
};
#undef DEF

/* "Type: message" of the pending exception, cleared. */
static void exc_text(char *buf, size_t len)
{
    PyObject *e = PyErr_GetRaisedException();
    PyObject *s = e ? PyObject_Str(e) : NULL;
    const char *u = s ? PyUnicode_AsUTF8(s) : NULL;
    snprintf(buf, len, "%s: %s", e ? Py_TYPE(e)->tp_name : "error", u ? u : "?");
    Py_XDECREF(s);
    Py_XDECREF(e);
    PyErr_Clear();
}

/* f(tool, b) or f(tool, b, c) */
static PyObject *call_tool(PyObject *f, PyObject *b, PyObject *c)
{
    PyObject *t = PyLong_FromLong(M.tool);
    if (!t)
        return NULL;
    PyObject *args[3] = {t, b, c};
    PyObject *r = PyObject_Vectorcall(f, args, b ? (c ? 3 : 2) : 1, NULL);
    Py_DECREF(t);
    return r;
}

/* f(tool, n) or f(tool, n, c); the result dropped.  0 or -1 (exception set). */
static int call_tool_long(PyObject *f, long n, PyObject *c)
{
    PyObject *x = PyLong_FromLong(n);
    PyObject *r = x ? call_tool(f, x, c) : NULL;
    Py_XDECREF(x);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

static int apply_global(long mask)
{
    if (call_tool_long(M.set_events, mask, NULL) < 0)
        return -1;
    M.mask = mask;
    return 0;
}

static void clear_refs(void)
{
    Py_CLEAR(M.set_events);
    Py_CLEAR(M.set_local_events);
    Py_CLEAR(M.register_callback);
    Py_CLEAR(M.free_tool_id);
    Py_CLEAR(mon_missing);
    for (int i = 0; i < MEV_COUNT; i++)
        Py_CLEAR(M.cb[i]);
}

/* The tool's functions, event bits and callback objects. */
static int load(PyObject *mon)
{
    PyObject *events = PyObject_GetAttrString(mon, "events");
    if (!events)
        return -1;
    for (int i = 0; i < MEV_COUNT; i++) {
        PyObject *v = PyObject_GetAttrString(events, ev_names[i]);
        M.bit[i] = v ? PyLong_AsLong(v) : -1;
        Py_XDECREF(v);
        if (M.bit[i] == -1 && PyErr_Occurred()) {
            Py_DECREF(events);
            return -1;
        }
    }
    Py_DECREF(events);
    for (int i = 0; i < MEV_COUNT; i++)
        if (!(M.cb[i] = PyCFunction_New(&cb_defs[i], NULL)))
            return -1;
    M.set_events = PyObject_GetAttrString(mon, "set_events");
    M.set_local_events = PyObject_GetAttrString(mon, "set_local_events");
    M.register_callback = PyObject_GetAttrString(mon, "register_callback");
    M.free_tool_id = PyObject_GetAttrString(mon, "free_tool_id");
    mon_missing = PyObject_GetAttrString(mon, "MISSING");
    return M.set_events && M.set_local_events && M.register_callback && M.free_tool_id &&
           mon_missing ? 0 : -1;
}

/* The first free id in tool_order, claimed as "peeka"; -1 when none is
 * free (names the holders in err) or on error (err says it). */
static int claim_tool(PyObject *mon, const char *who, char *err, size_t errlen)
{
    char held[200] = "";
    size_t used = 0;
    for (size_t i = 0; i < sizeof tool_order / sizeof tool_order[0]; i++) {
        int id = tool_order[i];
        PyObject *name = PyObject_CallMethod(mon, "get_tool", "i", id);
        if (!name)
            break;
        if (name == Py_None) {
            Py_DECREF(name);
            PyObject *r = PyObject_CallMethod(mon, "use_tool_id", "is", id, "peeka");
            if (r) {
                Py_DECREF(r);
                return id;
            }
            PyErr_Clear();   /* taken since get_tool: try the next one */
            continue;
        }
        const char *u = PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
        int n = snprintf(held + used, sizeof held - used, "%s%d=%s", used ? ", " : "", id, u ? u : "?");
        if (n > 0 && (size_t)n < sizeof held - used)
            used += (size_t)n;
        PyErr_Clear();
        Py_DECREF(name);
    }
    if (PyErr_Occurred()) {
        char why[200];
        exc_text(why, sizeof why);
        snprintf(err, errlen, "%s: cannot query sys.monitoring tool ids: %s", who, why);
    } else {
        snprintf(err, errlen, "%s: no free sys.monitoring tool id (0-5 are all in use: %s); "
                 "%s needs one while it records", who, held, who);
    }
    return -1;
}

static int register_all(PyObject *const *cbs)
{
    for (int i = 0; i < MEV_COUNT; i++) {
        PyObject *bit = PyLong_FromLong(M.bit[i]);
        PyObject *r = bit ? call_tool(M.register_callback, bit, cbs ? cbs[i] : Py_None) : NULL;
        Py_XDECREF(bit);
        if (!r)
            return -1;
        Py_DECREF(r);
    }
    return 0;
}

/* Back to how the target had it: events off, callbacks gone, id free. */
static void give_back(void)
{
    if (M.tool >= 0 && M.set_events) {
        if (apply_global(0) < 0)
            PyErr_Clear();
        if (register_all(NULL) < 0)
            PyErr_Clear();
        PyObject *r = call_tool(M.free_tool_id, NULL, NULL);
        if (!r)
            PyErr_Clear();
        Py_XDECREF(r);
    }
    clear_refs();
    M.tool = -1;
    M.mask = 0;
}

static int claim(const char *who, char *err, size_t errlen)
{
    PyObject *mon = PySys_GetObject("monitoring");   /* borrowed */
    if (!mon) {
        snprintf(err, errlen, "%s: this interpreter has no sys.monitoring", who);
        return -1;
    }
    if (load(mon) < 0) {
        char why[200];
        exc_text(why, sizeof why);
        snprintf(err, errlen, "%s: cannot set up sys.monitoring: %s", who, why);
        clear_refs();
        return -1;
    }
    if ((M.tool = claim_tool(mon, who, err, errlen)) < 0) {
        clear_refs();
        return -1;
    }
    if (register_all(M.cb) < 0 || apply_global(0) < 0) {
        char why[200];
        exc_text(why, sizeof why);
        snprintf(err, errlen, "%s: cannot register sys.monitoring callbacks for tool %d: %s",
                 who, M.tool, why);
        give_back();
        return -1;
    }
    return 0;
}

static int held_by_anyone(void)
{
    for (int u = 0; u < MON_USERS; u++)
        if (M.holds[u])
            return 1;
    return 0;
}

int mon_acquire(enum mon_user user, mon_handler handler, const char *who, char *err, size_t errlen)
{
    if (!held_by_anyone() && claim(who, err, errlen) < 0)
        return -1;
    M.holds[user]++;
    M.handler[user] = handler;
    return 0;
}

void mon_release(enum mon_user user)
{
    if (M.holds[user] == 0 || --M.holds[user] > 0)
        return;
    M.handler[user] = NULL;
    M.global[user] = 0;
    PyObject *pending = PyErr_GetRaisedException();
    if (!held_by_anyone())
        give_back();
    else if (mon_set_global(user, 0) < 0)
        PyErr_Clear();
    PyErr_SetRaisedException(pending);
}

long mon_bit(enum mon_event ev)
{
    return M.bit[ev];
}

int mon_set_global(enum mon_user user, long mask)
{
    if (M.tool < 0)
        return -1;
    long before = M.global[user];
    M.global[user] = mask;
    long want = 0;
    for (int u = 0; u < MON_USERS; u++)
        want |= M.global[u];
    if (want == M.mask)
        return 0;
    if (apply_global(want) < 0) {
        M.global[user] = before;
        PyErr_Clear();
        return -1;
    }
    return 0;
}

int mon_set_local(PyObject *code, long mask)
{
    if (M.tool < 0) {
        PyErr_SetString(PyExc_RuntimeError, "peeka: no sys.monitoring tool held");
        return -1;
    }
    PyObject *m = PyLong_FromLong(mask);
    PyObject *r = m ? call_tool(M.set_local_events, code, m) : NULL;
    Py_XDECREF(m);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

int mon_purge(void)
{
    if (M.tool < 0)
        return 0;
    for (int u = 0; u < MON_USERS; u++) {
        M.holds[u] = 0;
        M.handler[u] = NULL;
        M.global[u] = 0;
    }
    give_back();
    return 1;
}

#else

int mon_purge(void)
{
    return 0;   /* no sys.monitoring before 3.12 */
}

#endif
