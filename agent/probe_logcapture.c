/* `logger --capture`: the log records made during the recording by a
 * logger (and its descendants), as records of the archive.  peeka does
 * not touch any logger: it chains a record factory of its own in front of
 * logging's (logging.setLogRecordFactory, one for every capture probe of
 * the session) and puts the previous one back at the end.  The program's
 * handlers, filters, levels and propagation are unchanged (no handler is
 * added: basicConfig, hasHandlers and lastResort see what they saw), and
 * records below a logger's level are never made.  The factory's work is a
 * C function that reads the new LogRecord's __dict__ and formats its
 * message only when that runs no program code.  What the program can see:
 * logging.getLogRecordFactory() is peeka's while recording; a factory the
 * program sets meanwhile on top of it keeps it in its chain afterwards,
 * where it only passes records through. */
#include "interp_probes.h"
#include "observe.h"

#include <string.h>

static const char factory_src[] =
    "class PeekaLogRecordFactory:\n"
    "    \"\"\"peeka-rec's log capture: logging's record factory, and a look at each record.\"\"\"\n"
    "    __slots__ = ('old', 'sink', 'gen')\n"
    "    def __init__(self, old, sink, gen):\n"
    "        self.old, self.sink, self.gen = old, sink, gen\n"
    "    def __call__(self, *args, **kwargs):\n"
    "        record = self.old(*args, **kwargs)\n"
    "        self.sink(record, self.gen)\n"
    "        return record\n";

static PyObject *factory_class;
static PyObject *factory;      /* ours, while some capture probe runs */
static int users;              /* capture probes of the session */
static long long generation;   /* a factory of an older session passes records through */

/* Values whose %-formatting is the builtin's own: no __str__ of the program. */
static int plain(PyObject *v)
{
    return v == Py_None || PyBool_Check(v) || PyLong_CheckExact(v) || PyFloat_CheckExact(v) ||
           PyUnicode_CheckExact(v) || PyBytes_CheckExact(v);
}

static int plain_args(PyObject *args)
{
    if (PyTuple_CheckExact(args)) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(args); i++)
            if (!plain(PyTuple_GET_ITEM(args, i)))
                return 0;
        return 1;
    }
    if (PyDict_CheckExact(args)) {
        PyObject *k, *v;
        Py_ssize_t pos = 0;
        while (PyDict_Next(args, &pos, &k, &v))
            if (!PyUnicode_CheckExact(k) || !plain(v))
                return 0;
        return 1;
    }
    return 0;
}

static int no_args(PyObject *args)
{
    return !args || args == Py_None || (PyTuple_Check(args) && PyTuple_GET_SIZE(args) == 0);
}

/* The message as record.getMessage() gives it, when that needs none of
 * the program's code: a result already on the record (a LogRecord made by
 * makeLogRecord from a dict), the plain msg, or msg % args with builtin
 * values.  Else NULL. */
static PyObject *message_of(PyObject *d)
{
    PyObject *m = PyDict_GetItemString(d, "message");
    if (m && PyUnicode_Check(m))
        return Py_INCREF(m), m;
    PyObject *msg = PyDict_GetItemString(d, "msg"), *args = PyDict_GetItemString(d, "args");
    if (!msg || !PyUnicode_CheckExact(msg))
        return NULL;
    if (no_args(args))
        return Py_INCREF(msg), msg;
    if (!plain_args(args))
        return NULL;
    PyObject *r = PyUnicode_Format(msg, args);
    if (!r)
        PyErr_Clear();   /* logging would print its own "--- Logging error ---" */
    return r;
}

static void write_item(jsonw *w, PyObject *d, const char *key, const char *as, int depth)
{
    PyObject *v = PyDict_GetItemString(d, key);
    jsonw_key(w, as, 0);
    if (v)
        fmt_value(w, v, 0, depth);
    else
        jsonw_lit(w, "null");
}

/* `message`, `msg` and `args`, with `password=...` in their text redacted
 * as in throwExp. */
static void write_message(jsonw *w, PyObject *d, int depth)
{
    PyObject *m = message_of(d);
    jsonw_lit(w, ",\"message\":");
    w->clean_text = 1;
    if (m)
        fmt_value(w, m, 0, 1);
    else
        jsonw_lit(w, "null");
    Py_XDECREF(m);
    write_item(w, d, "msg", "msg", 1);
    if (!no_args(PyDict_GetItemString(d, "args")))
        write_item(w, d, "args", "args", depth);
    w->clean_text = 0;
}

/* One record of probe p from a LogRecord's __dict__ d. */
static void write_log(probe *p, PyObject *d)
{
    jsonw *w = snap_begin(p, "log");
    if (w) {
        write_item(w, d, "name", "logger", 1);
        write_item(w, d, "levelname", "level", 1);
        write_item(w, d, "levelno", "levelno", 1);
        write_message(w, d, p->depth);
        write_item(w, d, "created", "created", 1);
        write_item(w, d, "pathname", "file", 1);
        write_item(w, d, "lineno", "line", 1);
        write_item(w, d, "funcName", "function", 1);
        PyObject *ei = PyDict_GetItemString(d, "exc_info");
        jsonw_lit(w, ",\"throwExp\":");
        if (ei && PyTuple_Check(ei) && PyTuple_GET_SIZE(ei) == 3 &&
            PyExceptionInstance_Check(PyTuple_GET_ITEM(ei, 1)))
            fmt_exception(w, PyTuple_GET_ITEM(ei, 1));
        else
            jsonw_lit(w, "null");
        emit_thread_fields(w);
        snap_finish(p, w, "log");
    }
    PyErr_Clear();
}

/* Does the probe want a record of this logger at this level? */
static int wanted(const probe *p, PyObject *d)
{
    PyObject *name = PyDict_GetItemString(d, "name"), *lv = PyDict_GetItemString(d, "levelno");
    const char *n = name && PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
    long level = lv && PyLong_Check(lv) ? PyLong_AsLong(lv) : 0;
    PyErr_Clear();
    if (!n || level < p->snap->min_level)
        return 0;
    const char *want = p->snap->name;
    if (!want || !want[0] || !strcmp(want, "root"))
        return 1;
    size_t k = strlen(want);
    return !strncmp(n, want, k) && (n[k] == 0 || n[k] == '.');
}

static void take_record(PyObject *rec)
{
    PyObject *d = Py_TYPE(rec)->tp_dictoffset ? PyObject_GenericGetDict(rec, NULL) : NULL;
    for (int i = 0; d && PyDict_Check(d) && i < g_agent.nprobes; i++) {
        probe *p = g_agent.probes[i];
        if (p->kind == PK_LOGGER && p->snap && p->snap->action == SA_CAPTURE && p->snap->started &&
            !p->snap->ended && !p->done && wanted(p, d))
            write_log(p, d);
    }
    Py_XDECREF(d);
    PyErr_Clear();
}

/* The factory's look at a record just made, on the logging thread.  Never
 * raises: the program's logging call must not see peeka fail. */
static PyObject *sink(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *rec;
    long long gen;
    if (!PyArg_ParseTuple(args, "OL", &rec, &gen)) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    if (gen != generation || !users || observe_paused() || !g_agent.active)
        Py_RETURN_NONE;
    observe_guard g;
    observe_enter(&g);
    take_record(rec);
    observe_leave(&g);
    Py_RETURN_NONE;
}

static PyMethodDef sink_def = {"_peeka_log_sink", sink, METH_VARARGS, NULL};

/* logging.NAME(args...) from the module's own namespace; a new reference
 * or NULL. */
static PyObject *logging_call(PyObject *logging, const char *name, PyObject *arg)
{
    PyObject *fn = snap_own_attr(logging, name);
    PyObject *r = fn ? PyObject_CallFunctionObjArgs(fn, arg, NULL) : NULL;
    Py_XDECREF(fn);
    return r;
}

/* Ours in front of logging's record factory, for the first capture probe. */
static int install_factory(PyObject *logging)
{
    if (users++ > 0)
        return 0;
    if (!factory_class)
        factory_class = agent_pyhelper(factory_src, "PeekaLogRecordFactory");
    PyObject *old = factory_class ? logging_call(logging, "getLogRecordFactory", NULL) : NULL;
    PyObject *fn = old ? PyCFunction_New(&sink_def, NULL) : NULL;
    factory = fn ? PyObject_CallFunction(factory_class, "OOL", old, fn, ++generation) : NULL;
    PyObject *r = factory ? logging_call(logging, "setLogRecordFactory", factory) : NULL;
    Py_XDECREF(r);
    Py_XDECREF(fn);
    Py_XDECREF(old);
    if (!r) {
        Py_CLEAR(factory);
        users--;
        PyErr_Clear();
        return -1;
    }
    return 0;
}

/* The previous factory back after the last capture probe, if ours is still
 * the one logging uses; else ours stays in the program's chain, inert. */
static void remove_factory(void)
{
    if (--users > 0 || !factory)
        return;
    generation++;
    PyObject *logging = snap_import("logging");
    PyObject *now = logging ? logging_call(logging, "getLogRecordFactory", NULL) : NULL;
    PyObject *old = now == factory ? PyObject_GetAttrString(factory, "old") : NULL;
    PyObject *r = old ? logging_call(logging, "setLogRecordFactory", old) : NULL;
    Py_XDECREF(r);
    Py_XDECREF(old);
    Py_XDECREF(now);
    Py_XDECREF(logging);
    Py_CLEAR(factory);
    PyErr_Clear();
}

/* Launch mode starts before the program imported logging: then it is
 * imported now, as the program will. */
static PyObject *logging_for(probe *p)
{
    PyObject *logging = snap_import("logging");
    if (!logging && snap_time_is_end(p)) {
        logging = PyImport_ImportModule("logging");
        PyErr_Clear();
    }
    return logging;
}

/* Attach mode: --name must be a logger that exists (a typo would capture
 * nothing); launch mode: the program makes its loggers later. */
static int check_options(probe *p, PyObject *logging, char *err, size_t errlen)
{
    snap_state *s = p->snap;
    PyObject *lg = snap_time_is_end(p) ? NULL : logger_find(logging, s->name);
    PyObject *lv = s->level ? logger_level(logging, s->level) : NULL;
    int rc = 0;
    if (!snap_time_is_end(p) && !lg) {
        snprintf(err, errlen, "probe %d: no logger named '%s' (logger --action list shows them)", p->id,
                 s->name ? s->name : "root");
        rc = -1;
    } else if (s->level && !lv) {
        snprintf(err, errlen, "probe %d: '%s' is no logging level", p->id, s->level);
        rc = -1;
    }
    s->min_level = lv ? PyLong_AsLong(lv) : 0;
    Py_XDECREF(lv);
    Py_XDECREF(lg);
    PyErr_Clear();
    return rc;
}

int logcapture_start(probe *p, char *err, size_t errlen)
{
    PyObject *logging = logging_for(p);
    if (!logging) {
        snprintf(err, errlen, "probe %d: the program has not imported logging: nothing to capture", p->id);
        return -1;
    }
    int rc = check_options(p, logging, err, errlen);
    if (rc == 0 && (rc = install_factory(logging)) < 0)
        snprintf(err, errlen, "probe %d: cannot set logging's record factory", p->id);
    p->snap->holds_factory = rc == 0;
    Py_DECREF(logging);
    return rc;
}

void logcapture_end(probe *p)
{
    if (p->snap->holds_factory)
        remove_factory();
    p->snap->holds_factory = 0;
}
