/* The logger probe's list, get and set (Peeka's `logger`): the loggers
 * logging knows, with levels, propagation and handlers, read from their
 * __dict__ and logging's own tables without creating a logger
 * (logging.getLogger would).  `set` changes one level for the recording
 * and puts the old one back at its end, unless the program changed it
 * again meanwhile (then its choice stays). */
#include "interp_probes.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static long own_int(PyObject *obj, const char *name, long dflt)
{
    PyObject *v = snap_own_attr(obj, name);
    long r = v && PyLong_Check(v) ? PyLong_AsLong(v) : dflt;
    Py_XDECREF(v);
    PyErr_Clear();
    return r;
}

static int own_true(PyObject *obj, const char *name)
{
    PyObject *v = snap_own_attr(obj, name);
    int r = v && PyObject_IsTrue(v) == 1;   /* bools and ints only reach here */
    Py_XDECREF(v);
    PyErr_Clear();
    return r;
}

/* `"WARNING"` from logging._levelToName, or "Level N" as logging says it. */
static void write_level_name(jsonw *w, PyObject *logging, long level)
{
    PyObject *names = snap_own_attr(logging, "_levelToName");
    PyObject *key = PyLong_FromLong(level);
    PyObject *n = names && key && PyDict_Check(names) ? PyDict_GetItem(names, key) : NULL;
    if (n && PyUnicode_Check(n)) {
        fmt_text_or_null(w, n);
    } else {
        char buf[32];
        int len = snprintf(buf, sizeof buf, "Level %ld", level);
        jsonw_str(w, buf, (size_t)len);
    }
    Py_XDECREF(key);
    Py_XDECREF(names);
    PyErr_Clear();
}

/* getEffectiveLevel, walked by hand: the first level set up the parents. */
static long effective_level(PyObject *logger)
{
    Py_INCREF(logger);
    long lv = 0;
    for (int i = 0; i < 64 && logger && logger != Py_None; i++) {
        if ((lv = own_int(logger, "level", 0)) != 0)
            break;
        PyObject *up = snap_own_attr(logger, "parent");
        Py_DECREF(logger);
        logger = up;
    }
    Py_XDECREF(logger);
    return lv;
}

static void write_handlers(jsonw *w, PyObject *logging, PyObject *logger)
{
    PyObject *hs = snap_own_attr(logger, "handlers");
    jsonw_lit(w, ",\"handlers\":[");
    for (Py_ssize_t i = 0; hs && PyList_Check(hs) && i < PyList_GET_SIZE(hs); i++) {
        PyObject *h = PyList_GET_ITEM(hs, i);
        PyObject *cls = fmt_type_name(Py_TYPE(h));
        if (i) jsonw_char(w, ',');
        jsonw_lit(w, "{\"class\":");
        fmt_text_or_null(w, cls);
        Py_XDECREF(cls);
        jsonw_lit(w, ",\"level\":");
        write_level_name(w, logging, own_int(h, "level", 0));
        jsonw_char(w, '}');
    }
    jsonw_char(w, ']');
    Py_XDECREF(hs);
    PyErr_Clear();
}

static void write_logger(jsonw *w, PyObject *logging, PyObject *logger)
{
    PyObject *name = snap_own_attr(logger, "name");
    long lv = own_int(logger, "level", 0), eff = effective_level(logger);
    jsonw_lit(w, "{\"name\":");
    fmt_text_or_null(w, name);
    Py_XDECREF(name);
    jsonw_lit(w, ",\"level\":");
    write_level_name(w, logging, lv);
    jsonw_lit(w, ",\"levelno\":");
    jsonw_i64(w, lv);
    jsonw_lit(w, ",\"effective_level\":");
    write_level_name(w, logging, eff);
    jsonw_lit(w, ",\"effective_levelno\":");
    jsonw_i64(w, eff);
    snap_bool(w, "propagate", own_true(logger, "propagate"));
    snap_bool(w, "disabled", own_true(logger, "disabled"));
    write_handlers(w, logging, logger);
    jsonw_char(w, '}');
}

static PyObject *root_logger(PyObject *logging)
{
    return snap_own_attr(logging, "root");
}

/* logging.Logger.manager.loggerDict, or NULL. */
static PyObject *logger_dict(PyObject *logging)
{
    PyObject *cls = snap_own_attr(logging, "Logger");
    PyObject *mgr = cls && PyType_Check(cls) ? snap_class_attr((PyTypeObject *)cls, "manager") : NULL;
    PyObject *d = mgr ? snap_own_attr(mgr, "loggerDict") : NULL;
    Py_XDECREF(mgr);
    Py_XDECREF(cls);
    if (d && !PyDict_Check(d))
        Py_CLEAR(d);
    return d;
}

static int is_logger(PyObject *logging, PyObject *v)
{
    PyObject *cls = snap_own_attr(logging, "Logger");
    int r = cls && PyType_Check(cls) && PyObject_TypeCheck(v, (PyTypeObject *)cls);
    Py_XDECREF(cls);
    return r;
}

/* The logger called name ("" or "root": the root logger), never created. */
PyObject *logger_find(PyObject *logging, const char *name)
{
    if (!name || !name[0] || !strcmp(name, "root"))
        return root_logger(logging);
    PyObject *d = logger_dict(logging);
    PyObject *v = d ? PyDict_GetItemString(d, name) : NULL;
    if (v && !is_logger(logging, v))   /* a PlaceHolder: only its children exist */
        v = NULL;
    Py_XINCREF(v);
    Py_XDECREF(d);
    PyErr_Clear();
    return v;
}

static void write_list(jsonw *w, PyObject *logging)
{
    PyObject *d = logger_dict(logging), *names = d ? PyDict_Keys(d) : NULL;
    PyObject *root = root_logger(logging);
    jsonw_lit(w, ",\"loggers\":[");
    int n = 0;
    if (root) {
        write_logger(w, logging, root);
        n++;
    }
    if (names && PyList_Sort(names) == 0) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(names); i++) {
            PyObject *lg = PyDict_GetItem(d, PyList_GET_ITEM(names, i));
            if (!lg || !is_logger(logging, lg))
                continue;
            if (n++) jsonw_char(w, ',');
            write_logger(w, logging, lg);
        }
    }
    jsonw_lit(w, "],\"count\":");
    jsonw_i64(w, n);
    Py_XDECREF(root);
    Py_XDECREF(names);
    Py_XDECREF(d);
    PyErr_Clear();
}

/* --level as logging understands it: a number, or a name in
 * logging._nameToLevel (any case).  A new int, or NULL. */
PyObject *logger_level(PyObject *logging, const char *level)
{
    char *end;
    long v = strtol(level, &end, 10);
    if (*level && !*end)
        return v >= 0 ? PyLong_FromLong(v) : NULL;
    char up[32];
    size_t i = 0;
    for (; level[i] && i + 1 < sizeof up; i++)
        up[i] = (char)toupper((unsigned char)level[i]);
    up[i] = 0;
    PyObject *names = snap_own_attr(logging, "_nameToLevel");
    PyObject *r = names && PyDict_Check(names) ? PyDict_GetItemString(names, up) : NULL;
    Py_XINCREF(r);
    Py_XDECREF(names);
    PyErr_Clear();
    return r && PyLong_Check(r) ? r : (Py_XDECREF(r), NULL);
}

/* logging.Logger.METHOD(logger, arg): the base class's, never an override
 * of the program's (setLevel also clears logging's cache of enabled
 * levels, addHandler takes logging's lock); 0 or -1. */
int logger_call(PyObject *logging, const char *method, PyObject *logger, PyObject *arg)
{
    PyObject *cls = snap_own_attr(logging, "Logger");
    PyObject *fn = cls && PyType_Check(cls) ? snap_class_attr((PyTypeObject *)cls, method) : NULL;
    PyObject *r = fn ? PyObject_CallFunctionObjArgs(fn, logger, arg, NULL) : NULL;
    int rc = r ? 0 : -1;
    Py_XDECREF(r);
    Py_XDECREF(fn);
    Py_XDECREF(cls);
    PyErr_Clear();
    return rc;
}

static int set_level(PyObject *logging, PyObject *logger, PyObject *level)
{
    return logger_call(logging, "setLevel", logger, level);
}

static void emit_one(probe *p, PyObject *logging, PyObject *logger, const char *at,
                     const char *extra_key, long extra_level, int restored)
{
    jsonw *w = snap_begin(p, at);
    if (!w)
        return;
    jsonw_lit(w, ",\"logger\":");
    write_logger(w, logging, logger);
    if (extra_key) {
        jsonw_key(w, extra_key, 0);
        write_level_name(w, logging, extra_level);
    }
    if (restored >= 0)
        snap_bool(w, "restored", restored);
    snap_finish(p, w, at);
}

static void emit_list(probe *p, PyObject *logging, const char *at)
{
    jsonw *w = snap_begin(p, at);
    if (!w)
        return;
    if (logging)
        write_list(w, logging);
    else   /* no logging, no loggers */
        jsonw_lit(w, ",\"loggers\":[],\"count\":0");
    snap_finish(p, w, at);
}

/* set: the change, kept in the probe's state for logger_end. */
static int set_one(probe *p, PyObject *logging, PyObject *lg, const char *at, char *err, size_t errlen)
{
    snap_state *s = p->snap;
    PyObject *lv = logger_level(logging, s->level);
    long old = own_int(lg, "level", 0);
    int rc = -1;
    if (!lv)
        snprintf(err, errlen, "probe %d: '%s' is no logging level (DEBUG, INFO, WARNING, ERROR, "
                 "CRITICAL or a number >= 0)", p->id, s->level);
    else if (!(s->old_level = PyLong_FromLong(old)))   /* before the change: it must be undoable */
        snprintf(err, errlen, "out of memory");
    else if (set_level(logging, lg, lv) < 0) {
        snprintf(err, errlen, "probe %d: logging refused level %s", p->id, s->level);
        Py_CLEAR(s->old_level);
    } else
        rc = 0;
    if (rc == 0) {
        s->logger = (Py_INCREF(lg), lg);
        emit_one(p, logging, lg, at, "previous_level", old, -1);
    }
    Py_XDECREF(lv);
    return rc;
}

int logger_start(probe *p, char *err, size_t errlen)
{
    snap_state *s = p->snap;
    const char *at = s->ended ? "end" : "start";
    PyObject *logging = snap_import("logging");
    if (s->action == SA_LIST) {
        emit_list(p, logging, at);
        Py_XDECREF(logging);
        return 0;
    }
    if (!logging) {
        snprintf(err, errlen, "probe %d: the program has not imported logging", p->id);
        return -1;
    }
    PyObject *lg = logger_find(logging, s->name);
    int rc = 0;
    if (!lg) {
        snprintf(err, errlen, "probe %d: no logger named '%s' (logger --action list shows them)",
                 p->id, s->name ? s->name : "root");
        rc = -1;
    } else if (s->action == SA_SET) {
        rc = set_one(p, logging, lg, at, err, errlen);
    } else {
        emit_one(p, logging, lg, at, NULL, 0, -1);
    }
    Py_XDECREF(lg);
    Py_DECREF(logging);
    PyErr_Clear();
    return rc;
}

/* set: the old level back, unless the program set another since. */
void logger_end(probe *p, int emit)
{
    snap_state *s = p->snap;
    if (s->action != SA_SET || !s->logger || !s->old_level)
        return;
    PyObject *logging = snap_import("logging");
    PyObject *want = logging ? logger_level(logging, s->level) : NULL;
    long now = own_int(s->logger, "level", -1);
    int ours = want && PyLong_AsLong(want) == now;
    if (ours && set_level(logging, s->logger, s->old_level) < 0)
        ours = 0;
    if (emit && logging)
        emit_one(p, logging, s->logger, "end", NULL, 0, ours);
    Py_XDECREF(want);
    Py_XDECREF(logging);
    Py_CLEAR(s->logger);
    Py_CLEAR(s->old_level);
    PyErr_Clear();
}
