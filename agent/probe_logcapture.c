/* `logger --capture`: the log records a logger (and the loggers that
 * propagate to it) emits during the recording, as records of the archive.
 * A logging.Handler subclass is appended to the logger's handlers and
 * removed at the end: the program's handlers get every record as before,
 * no level, filter, propagation or formatter of the program changes, and
 * records below the logger's own level are not made (capture never lowers
 * a level).  The handler's work is a C function that reads the LogRecord's
 * __dict__ and formats its message only when that runs no program code.
 * What the program can see: one more handler in that logger's `handlers`
 * while recording (so hasHandlers() is true and logging.lastResort stays
 * quiet where it had no handler at all). */
#include "snapshot.h"
#include "observe.h"

#include <string.h>

static const char handler_src[] =
    "import logging\n"
    "class PeekaCapture(logging.Handler):\n"
    "    \"\"\"peeka-rec's log capture, there only while a recording runs.\"\"\"\n"
    "    def __init__(self, sink, probe_id, gen, level):\n"
    "        logging.Handler.__init__(self, level)\n"
    "        self._peeka = (sink, probe_id, gen)\n"
    "    def handle(self, record):\n"
    "        sink, probe_id, gen = self._peeka\n"
    "        sink(record, probe_id, gen)\n"
    "        return record\n"
    "    def emit(self, record):\n"
    "        self.handle(record)\n";

static PyObject *handler_class;
static long long generation;

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
 * the program's code: a formatter's result already on the record, the
 * plain msg, or msg % args with builtin values.  Else NULL. */
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

static void write_log(probe *p, PyObject *rec)
{
    PyObject *d = Py_TYPE(rec)->tp_dictoffset ? PyObject_GenericGetDict(rec, NULL) : NULL;
    if (!d || !PyDict_Check(d)) {
        Py_XDECREF(d);
        PyErr_Clear();
        return;
    }
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
    Py_DECREF(d);
    PyErr_Clear();
}

static probe *capture_probe(int id, long long gen)
{
    for (int i = 0; i < g_agent.nprobes; i++) {
        probe *p = g_agent.probes[i];
        if (p->id == id && p->kind == PK_LOGGER && p->snap && p->snap->action == SA_CAPTURE &&
            p->snap->gen == gen && !p->snap->ended)
            return p;
    }
    return NULL;
}

/* The handler's work, on the logging thread.  A stale handler (the program
 * kept a reference past the recording) finds no probe and does nothing. */
static PyObject *sink(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *rec;
    int id;
    long long gen;
    if (!PyArg_ParseTuple(args, "OiL", &rec, &id, &gen)) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    if (observe_paused() || !g_agent.active)
        Py_RETURN_NONE;
    probe *p = capture_probe(id, gen);
    if (!p || p->done)
        Py_RETURN_NONE;
    observe_guard g;
    observe_enter(&g);
    write_log(p, rec);
    observe_leave(&g);
    Py_RETURN_NONE;
}

static PyMethodDef sink_def = {"_peeka_log_sink", sink, METH_VARARGS, NULL};

/* Launch mode starts before the program imported logging or made its
 * loggers: then logging is imported and the logger made now, as the
 * program will (a logger class it sets later does not apply to this one). */
static PyObject *logging_for(probe *p)
{
    PyObject *logging = snap_import("logging");
    if (!logging && snap_time_is_end(p)) {
        logging = PyImport_ImportModule("logging");
        PyErr_Clear();
    }
    return logging;
}

/* A PeekaCapture for probe p at level lv (a new reference, or NULL). */
static PyObject *new_handler(probe *p, PyObject *lv)
{
    if (!handler_class)
        handler_class = agent_pyhelper(handler_src, "PeekaCapture");
    p->snap->gen = ++generation;
    PyObject *fn = handler_class ? PyCFunction_New(&sink_def, NULL) : NULL;
    PyObject *h = fn ? PyObject_CallFunction(handler_class, "OiLO", fn, p->id, p->snap->gen, lv) : NULL;
    Py_XDECREF(fn);
    return h;
}

int logcapture_start(probe *p, char *err, size_t errlen)
{
    snap_state *s = p->snap;
    PyObject *logging = logging_for(p);
    if (!logging) {
        snprintf(err, errlen, "probe %d: the program has not imported logging: nothing to capture", p->id);
        return -1;
    }
    PyObject *lg = logger_find(logging, s->name), *lv = NULL, *h = NULL;
    if (!lg && snap_time_is_end(p)) {
        PyObject *get = snap_own_attr(logging, "getLogger");
        lg = get ? PyObject_CallFunction(get, "s", s->name ? s->name : "") : NULL;
        Py_XDECREF(get);
        PyErr_Clear();
    }
    if (!lg) {
        snprintf(err, errlen, "probe %d: no logger named '%s' (logger --action list shows them)", p->id,
                 s->name ? s->name : "root");
        goto out;
    }
    if (!(lv = s->level ? logger_level(logging, s->level) : PyLong_FromLong(0))) {
        snprintf(err, errlen, "probe %d: '%s' is no logging level", p->id, s->level);
        goto out;
    }
    h = new_handler(p, lv);
    if (!h || logger_call(logging, "addHandler", lg, h) < 0) {
        snprintf(err, errlen, "probe %d: cannot add the capture handler to logger '%s'", p->id,
                 s->name ? s->name : "root");
        goto out;
    }
    s->logger = (Py_INCREF(lg), lg);
    s->handler = (Py_INCREF(h), h);
out:
    Py_XDECREF(h);
    Py_XDECREF(lv);
    Py_XDECREF(lg);
    Py_DECREF(logging);
    PyErr_Clear();
    return s->handler ? 0 : -1;
}

/* Off the logger again, if the program has not removed it itself. */
void logcapture_end(probe *p)
{
    snap_state *s = p->snap;
    if (!s->logger || !s->handler)
        return;
    PyObject *logging = snap_import("logging");
    if (logging)
        (void)logger_call(logging, "removeHandler", s->logger, s->handler);
    Py_XDECREF(logging);
    Py_CLEAR(s->handler);
    Py_CLEAR(s->logger);
    PyErr_Clear();
}
