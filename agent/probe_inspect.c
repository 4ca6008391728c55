/* The inspect probe (Peeka's `inspect`): the value of a module-level
 * dotted path, or how many live objects of a type there are (with
 * samples).  The path is walked through namespaces only: a module's
 * __dict__, a class's __dict__ along its MRO, an instance's __dict__ and
 * slots, a dict's str keys.  No property, descriptor or __getattr__ of
 * the program runs: a property is shown as the property object.  Values
 * are formatted as watch formats them (format.c), with the probe's depth,
 * limits and redaction rules. */
#include "interp_probes.h"
#include "redactor.h"
#include "pattern.h"

#include <fnmatch.h>
#include <string.h>

/* The longest leading part of path that is an imported module; *rest is
 * what follows it (NULL when the whole path is a module). */
static PyObject *leading_module(const char *path, const char **rest)
{
    char buf[PEEKA_PATTERN_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *end = buf + strlen(buf); end > buf;) {
        *end = 0;
        PyObject *m = snap_import(buf);
        if (m && PyModule_Check(m)) {
            *rest = path[end - buf] ? path + (end - buf) + 1 : NULL;
            return m;
        }
        Py_XDECREF(m);
        while (end > buf && *end != '.')
            end--;
    }
    return NULL;
}

/* A __slots__ member of obj's class: C-level member descriptors only. */
static PyObject *slot_value(PyObject *obj, const char *name)
{
    PyObject *d = snap_class_attr(Py_TYPE(obj), name);
    PyObject *v = NULL;
    if (d && Py_TYPE(d) == &PyMemberDescr_Type)
        v = Py_TYPE(d)->tp_descr_get(d, obj, (PyObject *)Py_TYPE(obj));
    Py_XDECREF(d);
    PyErr_Clear();
    return v;
}

/* One step of the path: obj.name, as a namespace holds it. */
static PyObject *step(PyObject *obj, const char *name)
{
    if (PyDict_Check(obj)) {
        PyObject *v = PyDict_GetItemString(obj, name);
        Py_XINCREF(v);
        PyErr_Clear();
        return v;
    }
    if (PyModule_Check(obj))
        return snap_own_attr(obj, name);
    if (PyType_Check(obj))
        return snap_class_attr((PyTypeObject *)obj, name);
    PyObject *v = snap_own_attr(obj, name);
    if (!v)
        v = slot_value(obj, name);
    if (!v) {   /* a class attribute that is no descriptor (a constant, a method) */
        PyObject *c = snap_class_attr(Py_TYPE(obj), name);
        if (c && Py_TYPE(c)->tp_descr_get && !PyFunction_Check(c))
            Py_CLEAR(c);   /* a property or other descriptor would run code */
        v = c;
    }
    return v;
}

/* What path names; NULL with err naming the part that is not there. */
static PyObject *resolve_path(const char *path, char *err, size_t errlen)
{
    const char *rest;
    PyObject *obj = leading_module(path, &rest);
    if (!obj) {
        snprintf(err, errlen, "inspect %s: no module of it is imported", path);
        return NULL;
    }
    char buf[PEEKA_PATTERN_MAX];
    snprintf(buf, sizeof buf, "%s", rest ? rest : "");
    for (char *part = rest ? buf : NULL, *next; part; part = next) {
        next = strchr(part, '.');
        if (next)
            *next++ = 0;
        PyObject *v = step(obj, part);
        if (!v) {
            snprintf(err, errlen, "inspect %s: '%s' is not in the namespace of %s (read from __dict__: "
                     "properties and __getattr__ are not run)", path, part, Py_TYPE(obj)->tp_name);
            Py_DECREF(obj);
            return NULL;
        }
        Py_DECREF(obj);
        obj = v;
    }
    return obj;
}

static void write_type(jsonw *w, PyTypeObject *t)
{
    PyObject *n = fmt_type_name(t);
    fmt_text_or_null(w, n);
    Py_XDECREF(n);
}

static int inspect_value(probe *p, const char *at, char *err, size_t errlen)
{
    PyObject *v = resolve_path(p->pattern, err, errlen);
    if (!v)
        return -1;
    jsonw *w = snap_begin(p, at);
    if (w) {
        jsonw_lit(w, ",\"type\":");
        write_type(w, Py_TYPE(v));
        jsonw_lit(w, ",\"value\":");
        const char *last = strrchr(p->pattern, '.');
        PyObject *name = PyUnicode_FromString(last ? last + 1 : p->pattern);
        if (name && fmt_rules(w) && redactor_key(fmt_rules(w), name))
            fmt_redacted(w);
        else
            fmt_value(w, v, 0, p->depth);
        Py_XDECREF(name);
        snap_finish(p, w, at);
    }
    Py_DECREF(v);
    PyErr_Clear();
    return 0;
}

/* Does type t answer to --type pat: its "module.Qualname" or Qualname? */
static int type_matches(PyTypeObject *t, const char *pat)
{
    PyObject *full = fmt_type_name(t);
    const char *s = full ? PyUnicode_AsUTF8(full) : NULL;
    int hit = 0;
    if (s) {
        const char *dot = strrchr(s, '.');
        hit = fnmatch(pat, s, 0) == 0 || (dot && fnmatch(pat, dot + 1, 0) == 0);
        if (!hit && (t->tp_flags & Py_TPFLAGS_HEAPTYPE)) {
            const char *q = PyUnicode_AsUTF8(((PyHeapTypeObject *)t)->ht_qualname);
            hit = q && fnmatch(pat, q, 0) == 0;
        }
    }
    Py_XDECREF(full);
    PyErr_Clear();
    return hit;
}

/* What the walk of the collector's objects found: counts by matching
 * type, the first samples, the total. */
typedef struct {
    PyObject *counts;    /* type -> int */
    PyObject *samples;   /* list */
    int64_t total;
} found;

/* One name check per type, remembered in verdict (type -> bool). */
static int matches(PyObject *verdict, PyTypeObject *t, const char *pat)
{
    PyObject *hit = PyDict_GetItem(verdict, (PyObject *)t);
    if (!hit) {
        hit = type_matches(t, pat) ? Py_True : Py_False;
        if (PyDict_SetItem(verdict, (PyObject *)t, hit) < 0)
            PyErr_Clear();
    }
    return hit == Py_True;
}

static int walk_objects(found *f, const char *pat, Py_ssize_t keep)
{
    PyObject *gc = PyImport_ImportModule("gc");
    PyObject *all = gc ? PyObject_CallMethod(gc, "get_objects", NULL) : NULL;
    PyObject *verdict = all && PyList_Check(all) ? PyDict_New() : NULL;
    Py_XDECREF(gc);
    f->counts = verdict ? PyDict_New() : NULL;
    f->samples = f->counts ? PyList_New(0) : NULL;
    f->total = 0;
    for (Py_ssize_t i = 0; f->samples && i < PyList_GET_SIZE(all); i++) {
        PyObject *o = PyList_GET_ITEM(all, i), *t = (PyObject *)Py_TYPE(o);
        if (!matches(verdict, Py_TYPE(o), pat))
            continue;
        PyObject *c = PyDict_GetItem(f->counts, t);
        PyObject *n = PyLong_FromLongLong(c ? PyLong_AsLongLong(c) + 1 : 1);
        if (!n || PyDict_SetItem(f->counts, t, n) < 0 ||
            (PyList_GET_SIZE(f->samples) < keep && PyList_Append(f->samples, o) < 0))
            Py_CLEAR(f->samples);
        Py_XDECREF(n);
        f->total++;
    }
    Py_XDECREF(verdict);
    Py_XDECREF(all);
    PyErr_Clear();
    if (!f->samples)
        Py_CLEAR(f->counts);
    return f->samples ? 0 : -1;
}

static void write_found(jsonw *w, probe *p, const found *f)
{
    jsonw_lit(w, ",\"type\":");
    jsonw_str(w, p->snap->name, strlen(p->snap->name));
    jsonw_lit(w, ",\"count\":");
    jsonw_i64(w, f->total);
    jsonw_lit(w, ",\"types\":[");
    PyObject *t, *c;
    Py_ssize_t pos = 0;
    for (int k = 0; PyDict_Next(f->counts, &pos, &t, &c); k++) {
        if (k) jsonw_char(w, ',');
        jsonw_lit(w, "{\"type\":");
        write_type(w, (PyTypeObject *)t);
        jsonw_lit(w, ",\"count\":");
        fmt_value(w, c, 0, 1);
        jsonw_char(w, '}');
    }
    jsonw_char(w, ']');
    if (p->snap->action != SA_INSTANCES)
        return;
    jsonw_lit(w, ",\"instances\":[");
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(f->samples); i++) {
        if (i) jsonw_char(w, ',');
        fmt_value(w, PyList_GET_ITEM(f->samples, i), 0, p->depth);
    }
    jsonw_char(w, ']');
}

/* The objects the collector tracks whose type matches: counts by type and,
 * for `instances`, the first --limit of them formatted. */
static int inspect_instances(probe *p, const char *at, char *err, size_t errlen)
{
    found f;
    if (walk_objects(&f, p->snap->name, p->snap->action == SA_INSTANCES ? p->snap->limit : 0) < 0) {
        snprintf(err, errlen, "inspect: gc.get_objects() failed");
        return -1;
    }
    jsonw *w = snap_begin(p, at);
    if (w) {
        write_found(w, p, &f);
        snap_finish(p, w, at);
    }
    Py_DECREF(f.samples);
    Py_DECREF(f.counts);
    PyErr_Clear();
    return 0;
}

int inspect_start(probe *p, char *err, size_t errlen)
{
    const char *at = p->snap->ended ? "end" : "start";
    return p->snap->action == SA_VALUE ? inspect_value(p, at, err, errlen)
                                       : inspect_instances(p, at, err, errlen);
}
