/* The sys.monitoring tool behind trace on CPython 3.12+ (see
 * trace_monitoring.h).  sys.monitoring has no C API for claiming a tool or
 * setting events before 3.14, so this calls its Python functions; that
 * happens at probe creation and when the first traced call starts or the
 * last one ends, never per event. */
#include "trace_monitoring.h"

#if PY_VERSION_HEX >= 0x030C0000

#include <stdio.h>
#include <string.h>

PyObject *tmon_missing;

/* Unnamed ids first; 2 (PROFILER_ID, cProfile's), 1 (COVERAGE_ID) and
 * 0 (DEBUGGER_ID) last, so that a tool started later still finds its own. */
static const int tool_order[] = {4, 3, 5, 2, 1, 0};

enum { EV_START, EV_RESUME, EV_THROW, EV_RETURN, EV_YIELD, EV_UNWIND, EV_CALL, EV_C_RETURN,
       EV_C_RAISE, EV_COUNT };
static const char *const ev_names[EV_COUNT] = {"PY_START", "PY_RESUME", "PY_THROW", "PY_RETURN",
                                               "PY_YIELD", "PY_UNWIND", "CALL", "C_RETURN", "C_RAISE"};

static struct {
    PyObject *set_events, *register_callback, *free_tool_id;   /* strong */
    PyObject *cb[EV_COUNT];     /* strong: the callback of each event */
    long bit[EV_COUNT];         /* sys.monitoring.events.X */
    int tool;                   /* -1: not held */
    int users;                  /* trace probes alive */
    int active, active_builtins;   /* traced calls running now */
    long mask;                  /* events set now */
    unsigned gen;
} M = {.tool = -1};

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

/* f(a) or f(a, b) */
static PyObject *call2(PyObject *f, long a, PyObject *b)
{
    PyObject *x = PyLong_FromLong(a);
    if (!x)
        return NULL;
    PyObject *args[2] = {x, b};
    PyObject *r = PyObject_Vectorcall(f, args, b ? 2 : 1, NULL);
    Py_DECREF(x);
    return r;
}

/* f(a, b) or f(a, b, c) */
static PyObject *call3(PyObject *f, long a, long b, PyObject *c)
{
    PyObject *x = PyLong_FromLong(a), *y = PyLong_FromLong(b);
    PyObject *r = NULL;
    if (x && y) {
        PyObject *args[3] = {x, y, c};
        r = PyObject_Vectorcall(f, args, c ? 3 : 2, NULL);
    }
    Py_XDECREF(x);
    Py_XDECREF(y);
    return r;
}

static int set_events(long mask)
{
    PyObject *r = call3(M.set_events, M.tool, mask, NULL);
    if (!r)
        return -1;
    Py_DECREF(r);
    M.mask = mask;
    return 0;
}

static void clear_refs(void)
{
    Py_CLEAR(M.set_events);
    Py_CLEAR(M.register_callback);
    Py_CLEAR(M.free_tool_id);
    Py_CLEAR(tmon_missing);
    for (int i = 0; i < EV_COUNT; i++)
        Py_CLEAR(M.cb[i]);
}

/* The tool's functions, event bits and callback objects. */
static int load(PyObject *mon, const tmon_callbacks *cbs)
{
    PyObject *events = PyObject_GetAttrString(mon, "events");
    if (!events)
        return -1;
    for (int i = 0; i < EV_COUNT; i++) {
        PyObject *v = PyObject_GetAttrString(events, ev_names[i]);
        M.bit[i] = v ? PyLong_AsLong(v) : -1;
        Py_XDECREF(v);
        if (M.bit[i] == -1 && PyErr_Occurred()) {
            Py_DECREF(events);
            return -1;
        }
    }
    Py_DECREF(events);
    PyMethodDef *def[EV_COUNT] = {cbs->start, cbs->start, cbs->start, cbs->ret, cbs->ret, cbs->ret,
                                  cbs->call, cbs->c_ret, cbs->c_ret};
    for (int i = 0; i < EV_COUNT; i++)
        if (!(M.cb[i] = PyCFunction_New(def[i], NULL)))
            return -1;
    M.set_events = PyObject_GetAttrString(mon, "set_events");
    M.register_callback = PyObject_GetAttrString(mon, "register_callback");
    M.free_tool_id = PyObject_GetAttrString(mon, "free_tool_id");
    tmon_missing = PyObject_GetAttrString(mon, "MISSING");
    return M.set_events && M.register_callback && M.free_tool_id && tmon_missing ? 0 : -1;
}

/* The first free id in tool_order, claimed as "peeka"; -1 when none is
 * free (names the holders in err) or on error (err says it). */
static int claim_tool(PyObject *mon, char *err, size_t errlen)
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
        snprintf(err, errlen, "trace: cannot query sys.monitoring tool ids: %s", why);
    } else {
        snprintf(err, errlen, "trace: no free sys.monitoring tool id (0-5 are all in use: %s); "
                 "trace needs one while it records", held);
    }
    return -1;
}

static int register_all(void)
{
    for (int i = 0; i < EV_COUNT; i++) {
        PyObject *r = call3(M.register_callback, M.tool, M.bit[i], M.cb[i]);
        if (!r)
            return -1;
        Py_DECREF(r);
    }
    return set_events(0);
}

/* Back to how the target had it: events off, callbacks gone, id free. */
static void give_back(void)
{
    if (M.tool >= 0) {
        if (M.set_events && set_events(0) < 0)
            PyErr_Clear();
        for (int i = 0; i < EV_COUNT && M.register_callback; i++) {
            PyObject *r = call3(M.register_callback, M.tool, M.bit[i], Py_None);
            if (!r)
                PyErr_Clear();
            Py_XDECREF(r);
        }
        PyObject *r = M.free_tool_id ? call2(M.free_tool_id, M.tool, NULL) : NULL;
        if (!r)
            PyErr_Clear();
        Py_XDECREF(r);
    }
    clear_refs();
    M.tool = -1;
    M.active = M.active_builtins = 0;
    M.mask = 0;
    if (++M.gen == 0)
        M.gen = 1;
}

int tmon_acquire(const tmon_callbacks *cbs, char *err, size_t errlen)
{
    if (M.users > 0) {
        M.users++;
        return 0;
    }
    PyObject *mon = PySys_GetObject("monitoring");   /* borrowed */
    if (!mon) {
        snprintf(err, errlen, "trace: this interpreter has no sys.monitoring");
        return -1;
    }
    if (load(mon, cbs) < 0) {
        char why[200];
        exc_text(why, sizeof why);
        snprintf(err, errlen, "trace: cannot set up sys.monitoring: %s", why);
        clear_refs();
        return -1;
    }
    if ((M.tool = claim_tool(mon, err, errlen)) < 0) {
        clear_refs();
        return -1;
    }
    if (register_all() < 0) {
        char why[200];
        exc_text(why, sizeof why);
        snprintf(err, errlen, "trace: cannot register sys.monitoring callbacks for tool %d: %s", M.tool, why);
        give_back();
        return -1;
    }
    M.users = 1;
    if (++M.gen == 0)
        M.gen = 1;
    return 0;
}

void tmon_release(void)
{
    if (M.users == 0 || --M.users > 0)
        return;
    PyObject *pending = PyErr_GetRaisedException();
    give_back();
    PyErr_SetRaisedException(pending);
}

static long wanted_mask(void)
{
    if (!M.active)
        return 0;
    long m = M.bit[EV_START] | M.bit[EV_RESUME] | M.bit[EV_THROW] | M.bit[EV_RETURN] |
             M.bit[EV_YIELD] | M.bit[EV_UNWIND];
    /* C_RETURN and C_RAISE come with CALL: they cannot be set alone */
    return M.active_builtins ? m | M.bit[EV_CALL] : m;
}

static int update_events(void)
{
    long want = wanted_mask();
    if (want == M.mask)
        return 0;
    if (set_events(want) < 0) {
        PyErr_Clear();
        return -1;
    }
    return 0;
}

unsigned tmon_begin(int builtins)
{
    if (M.tool < 0)
        return 0;
    M.active++;
    M.active_builtins += builtins != 0;
    if (update_events() < 0) {
        M.active--;
        M.active_builtins -= builtins != 0;
        return 0;
    }
    return M.gen;
}

void tmon_end(unsigned gen, int builtins)
{
    if (gen != M.gen || M.tool < 0 || M.active == 0)
        return;   /* the tool was given back while this call ran */
    M.active--;
    M.active_builtins -= builtins != 0;
    (void)update_events();   /* failed: events stay on, the callbacks ignore them */
}

#endif
