/* Python values as JSON, with Peeka's limits (docs/format.md, "Value
 * formatting").  Runs inside hooks: it must never raise, never recurse
 * without bound, and must leave the caller's exception state alone. */
#include "retype.h"
#include "agent.h"
#include "redactor.h"
#if PY_VERSION_HEX < 0x030C0000
#include <structmember.h>   /* PyMember_GetOne; in Python.h from 3.12 */
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BYTES_HEX   100
#define REPR_LIMIT  200

/* The limits of the record being written: its probe's, or Peeka's. */
static inline Py_ssize_t str_limit(const jsonw *w)
{
    return w->fmt ? w->fmt->max_string : FMT_STRING;
}

static inline Py_ssize_t items_limit(const jsonw *w)
{
    return w->fmt ? w->fmt->max_items : FMT_ITEMS;
}

static inline Py_ssize_t attrs_limit(const jsonw *w)
{
    return w->fmt ? w->fmt->max_attrs : FMT_ATTRS;
}

/* A --record value's text: `key=value` secrets replaced as in throwExp
 * (record.c turns this on while it writes). */
static void fmt_clean_text(jsonw *w, const char *u, size_t len)
{
    char *clean;
    size_t clen;
    int rc = peeka_redact_text(&fmt_rules(w)->rules, u, len, &clean, &clen);
    if (rc < 0)
        fmt_redacted(w);
    else if (rc > 0)
        jsonw_str(w, clean, clen);
    else
        jsonw_str(w, u, len);
    free(clean);
}

static void fmt_text(jsonw *w, PyObject *s, Py_ssize_t limit)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    PyObject *cut = NULL;
    if (n > limit) {
        cut = PyUnicode_Substring(s, 0, limit);
        if (!cut) {
            PyErr_Clear();
            jsonw_lit(w, "\"<unprintable str>\"");
            return;
        }
        s = cut;
    }
    Py_ssize_t len;
    const char *u = PyUnicode_AsUTF8AndSize(s, &len);
    if (u && w->clean_text && fmt_rules(w)) {
        fmt_clean_text(w, u, (size_t)len);
    } else if (u) {
        jsonw_str(w, u, (size_t)len);
    } else {   /* lone surrogates: not representable in UTF-8 */
        PyErr_Clear();
        jsonw_lit(w, "\"<unprintable str>\"");
    }
    Py_XDECREF(cut);
}

/* "module.Qualname" of a type, read from the type object itself: a
 * metaclass may define __module__ or __qualname__ as properties, and
 * getattr would run them. */
static PyObject *type_name(PyTypeObject *t)
{
    if (t->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        PyObject *qual = ((PyHeapTypeObject *)t)->ht_qualname;
        PyObject *mod = t->tp_dict ? PyDict_GetItemString(t->tp_dict, "__module__") : NULL;
        if (qual && PyUnicode_Check(qual)) {
            if (mod && PyUnicode_Check(mod))
                return PyUnicode_FromFormat("%U.%U", mod, qual);
            return Py_INCREF(qual), qual;
        }
    }
    const char *name = t->tp_name;
    return strchr(name, '.') ? PyUnicode_FromString(name) : PyUnicode_FromFormat("builtins.%s", name);
}

PyObject *fmt_type_name(PyTypeObject *t)
{
    return type_name(t);
}

/* `"<prefix NAME suffix>"` with NAME the type's name: what is shown instead
 * of running the object's own __repr__. */
static void fmt_placeholder(jsonw *w, const char *prefix, PyTypeObject *t, const char *suffix)
{
    PyObject *name = t->tp_flags & Py_TPFLAGS_HEAPTYPE || strchr(t->tp_name, '.')
                         ? type_name(t) : PyUnicode_FromString(t->tp_name);   /* "list", not "builtins.list" */
    PyObject *s = name ? PyUnicode_FromFormat("<%s%U%s>", prefix, name, suffix) : NULL;
    Py_XDECREF(name);
    if (!s) {
        PyErr_Clear();
        jsonw_lit(w, "\"<object>\"");
        return;
    }
    fmt_text(w, s, REPR_LIMIT);
    Py_DECREF(s);
}

/* The repr that the value's builtin base type gives, never an override:
 * int, float and bool subclasses print as their value. */
static PyObject *base_repr(PyObject *v)
{
    if (PyBool_Check(v)) return PyBool_Type.tp_repr(v);
    if (PyLong_Check(v)) return PyLong_Type.tp_repr(v);
    if (PyFloat_Check(v)) return PyFloat_Type.tp_repr(v);
    if (v == Py_None) return PyUnicode_FromString("None");
    return NULL;
}

static void fmt_float(jsonw *w, double d)
{
    if (isnan(d)) { jsonw_lit(w, "\"NaN\""); return; }
    if (isinf(d)) {
        if (d > 0) jsonw_lit(w, "\"Infinity\"");
        else jsonw_lit(w, "\"-Infinity\"");
        return;
    }
    char *s = PyOS_double_to_string(d, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (!s) { PyErr_Clear(); jsonw_lit(w, "null"); return; }
    jsonw_raw(w, s, strlen(s));
    PyMem_Free(s);
}

static void fmt_int(jsonw *w, PyObject *v)
{
    int overflow;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (!overflow && !(x == -1 && PyErr_Occurred())) {
        jsonw_i64(w, x);
        return;
    }
    PyErr_Clear();
    /* Huge ints: decimal digits as a string so JSON readers keep them exact. */
    PyObject *r = PyLong_Type.tp_repr(v);
    if (!r) { PyErr_Clear(); jsonw_lit(w, "\"<int>\""); return; }
    fmt_text(w, r, str_limit(w));
    Py_DECREF(r);
}

static void fmt_bytes(jsonw *w, PyObject *v)
{
    static const char hex[] = "0123456789abcdef";
    Py_ssize_t n = PyBytes_GET_SIZE(v);
    if (n > BYTES_HEX) {
        char tmp[48];
        int k = snprintf(tmp, sizeof tmp, "\"<bytes len=%zd>\"", n);
        jsonw_raw(w, tmp, (size_t)k);
        return;
    }
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(v);
    jsonw_char(w, '"');
    for (Py_ssize_t i = 0; i < n; i++) {
        char two[2] = {hex[p[i] >> 4], hex[p[i] & 15]};
        jsonw_raw(w, two, 2);
    }
    jsonw_char(w, '"');
}

static void fmt_seq(jsonw *w, PyObject *const *items, Py_ssize_t shown, Py_ssize_t n,
                    int level, int depth)
{
    jsonw_char(w, '[');
    for (Py_ssize_t i = 0; i < shown; i++) {
        if (i) jsonw_char(w, ',');
        fmt_value(w, items[i], level + 1, depth);
    }
    if (n > shown) jsonw_lit(w, ",\"...\"");
    jsonw_char(w, ']');
}

/* Only the items shown are copied (a C-level slice: no __getitem__ or
 * __iter__ of a subclass runs), so a huge list costs nothing more. */
static void fmt_list(jsonw *w, PyObject *v, int level, int depth)
{
    Py_ssize_t n = PyList_GET_SIZE(v);
    Py_ssize_t lim = items_limit(w);
    PyObject *head = PyList_GetSlice(v, 0, n < lim ? n : lim);
    if (!head) { PyErr_Clear(); jsonw_lit(w, "null"); return; }
    fmt_seq(w, &PyList_GET_ITEM(head, 0), PyList_GET_SIZE(head), n, level, depth);
    Py_DECREF(head);
}

/* Keys that are not str are shown by their builtin value (ints, floats) or
 * by their type: str(key) could run the application's __str__. */
static void fmt_key(jsonw *w, PyObject *k)
{
    if (PyUnicode_Check(k)) {   /* a name, not data: Peeka's limit, not --max-string */
        fmt_text(w, k, FMT_STRING);
        return;
    }
    PyObject *s = base_repr(k);
    if (s) {
        fmt_text(w, s, FMT_STRING);
        Py_DECREF(s);
        return;
    }
    PyErr_Clear();
    fmt_placeholder(w, "", Py_TYPE(k), " object");
}

/* What a value under a key, parameter or attribute a rule matches is
 * shown as (docs/format.md "Redaction"). */
void fmt_redacted(jsonw *w)
{
    jsonw_lit(w, "\"" PEEKA_REDACTED "\"");
}

/* One `"key":value` into an object being written; false at the limit
 * (the object then ends with `"...":"..."`). */
static int fmt_member(jsonw *w, PyObject *k, PyObject *v, int level, int depth,
                      Py_ssize_t *shown, Py_ssize_t limit)
{
    if (*shown == limit) {
        jsonw_lit(w, ",\"...\":\"...\"");
        return 0;
    }
    if ((*shown)++) jsonw_char(w, ',');
    fmt_key(w, k);
    jsonw_char(w, ':');
    if (fmt_rules(w) && redactor_key(fmt_rules(w), k))
        fmt_redacted(w);
    else
        fmt_value(w, v, level + 1, depth);
    return 1;
}

static int is_public(PyObject *k)
{
    return PyUnicode_Check(k) && PyUnicode_GET_LENGTH(k) > 0 && PyUnicode_READ_CHAR(k, 0) != '_';
}

/* The dict's own table, walked in C (a subclass's items() or __iter__ never
 * runs).  Keys and values are held while formatted: nothing here runs
 * application code, but a collection may run a finaliser that changes d. */
static void fmt_items(jsonw *w, PyObject *d, int level, int depth, int public_only,
                      Py_ssize_t *shown, Py_ssize_t limit)
{
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    Py_INCREF(d);
    while (PyDict_Next(d, &pos, &k, &v)) {
        if (public_only && !is_public(k))
            continue;
        Py_INCREF(k);
        Py_INCREF(v);
        int more = fmt_member(w, k, v, level, depth, shown, limit);
        Py_DECREF(k);
        Py_DECREF(v);
        if (!more)
            break;
    }
    Py_DECREF(d);
}

static void fmt_dict(jsonw *w, PyObject *d, int level, int depth)
{
    Py_ssize_t shown = 0;
    jsonw_char(w, '{');
    fmt_items(w, d, level, depth, 0, &shown, items_limit(w));
    jsonw_char(w, '}');
}

/* set's own iterator, whatever a subclass's __iter__ says. */
static void fmt_set(jsonw *w, PyObject *s, int level, int depth)
{
    PyObject *it = PySet_Type.tp_iter(s);
    if (!it) { PyErr_Clear(); jsonw_lit(w, "null"); return; }
    jsonw_lit(w, "{\"__set__\":[");
    PyObject *x;
    int n = 0;
    while ((x = Py_TYPE(it)->tp_iternext(it))) {
        if (n == items_limit(w)) { Py_DECREF(x); jsonw_lit(w, ",\"...\""); break; }
        if (n++) jsonw_char(w, ',');
        fmt_value(w, x, level + 1, depth);
        Py_DECREF(x);
    }
    PyErr_Clear();
    Py_DECREF(it);
    jsonw_lit(w, "]}");
}

static void fmt_class_name(jsonw *w, PyTypeObject *t)
{
    PyObject *name = type_name(t);
    if (!name) { PyErr_Clear(); jsonw_lit(w, "\"?\""); return; }
    fmt_text(w, name, FMT_STRING);
    Py_DECREF(name);
}

/* __slots__ values, read through the member descriptors' C getters. */
static void fmt_slots(jsonw *w, PyObject *v, int level, int depth, Py_ssize_t *shown)
{
    PyObject *mro = Py_TYPE(v)->tp_mro;
    for (Py_ssize_t i = 0; mro && i < PyTuple_GET_SIZE(mro); i++) {
        PyObject *d = ((PyTypeObject *)PyTuple_GET_ITEM(mro, i))->tp_dict;
        Py_ssize_t pos = 0;
        PyObject *k, *m;
        while (d && PyDict_Next(d, &pos, &k, &m)) {
            if (Py_TYPE(m) != &PyMemberDescr_Type || !is_public(k))
                continue;
            PyObject *val = PyMember_GetOne((const char *)v, ((PyMemberDescrObject *)m)->d_member);
            if (!val) { PyErr_Clear(); continue; }   /* an unset slot */
            int more = fmt_member(w, k, val, level, depth, shown, attrs_limit(w));
            Py_DECREF(val);
            if (!more)
                return;
        }
    }
}

/* Reads the instance __dict__ and slots directly: dir(), getattr, vars()
 * would run the application's properties, descriptors and __getattr__. */
static void fmt_object(jsonw *w, PyObject *v, int level, int depth)
{
    PyObject **dictp = _PyObject_GetDictPtr(v);
    Py_ssize_t shown = 0;
    jsonw_lit(w, "{\"__class__\":");
    fmt_class_name(w, Py_TYPE(v));
    jsonw_lit(w, ",\"__attrs__\":{");
    if (dictp && *dictp && PyDict_Check(*dictp))
        fmt_items(w, *dictp, level, depth, 1, &shown, attrs_limit(w));
    if (shown < attrs_limit(w))
        fmt_slots(w, v, level, depth, &shown);
    jsonw_lit(w, "}}");
}

/* --repr (Peeka's way): the value's repr() at the depth limit.  It runs
 * the program's code, so everything it may do is contained: its exception
 * is dropped (the record says so), its recursion is bounded, and its text
 * goes through the probe's redaction rules like an exception message.
 * 0, or -1 to fall back to the placeholder. */
static int fmt_repr(jsonw *w, PyObject *v)
{
    if (Py_EnterRecursiveCall(" in peeka --repr")) {
        PyErr_Clear();
        return -1;
    }
    PyObject *r = PyObject_Repr(v);
    Py_LeaveRecursiveCall();
    if (!r || !PyUnicode_Check(r)) {
        Py_XDECREF(r);
        PyErr_Clear();
        fmt_placeholder(w, "", Py_TYPE(v), " object, repr() failed");
        return 0;
    }
    if (fmt_rules(w) && !(r = redactor_message(fmt_rules(w), r))) {
        PyErr_Clear();
        fmt_redacted(w);
        return 0;
    }
    fmt_text(w, r, str_limit(w));
    Py_DECREF(r);
    return 0;
}

/* At the depth limit (-x): what the value is, without looking inside and
 * without its __repr__ (which may query a database, as Django's QuerySet
 * does), unless the probe asked for --repr. */
static void fmt_at_limit(jsonw *w, PyObject *v)
{
    if (w->fmt && w->fmt->repr && fmt_repr(w, v) == 0)
        return;
    char len[48];
    Py_ssize_t n = PyTuple_Check(v) ? PyTuple_GET_SIZE(v) : PyList_Check(v) ? PyList_GET_SIZE(v)
                 : PyDict_Check(v) ? PyDict_GET_SIZE(v) : PyAnySet_Check(v) ? PySet_GET_SIZE(v) : -1;
    if (n >= 0) {
        snprintf(len, sizeof len, " len=%zd", n);
        fmt_placeholder(w, "", Py_TYPE(v), len);
    } else {
        fmt_placeholder(w, "", Py_TYPE(v), " object");
    }
}

/* Functions, methods, classes and modules by name, from their C fields. */
static int fmt_named(jsonw *w, PyObject *v)
{
    PyObject *name = NULL;
    const char *what;
    if (PyType_Check(v)) {
        what = "class";
        name = type_name((PyTypeObject *)v);
    } else if (is_function(v)) {
        what = "function";
        PyObject *q = ((PyFunctionObject *)v)->func_qualname, *m = ((PyFunctionObject *)v)->func_module;
        name = m && PyUnicode_Check(m) ? PyUnicode_FromFormat("%U.%U", m, q) : (Py_INCREF(q), q);
    } else if (PyCFunction_Check(v)) {
        what = "built-in function";
        name = PyUnicode_FromString(((PyCFunctionObject *)v)->m_ml->ml_name);
    } else if (PyMethod_Check(v)) {
        return fmt_named(w, PyMethod_GET_FUNCTION(v));
    } else if (PyModule_Check(v)) {
        what = "module";
        name = PyModule_GetNameObject(v);
    } else {
        return 0;
    }
    PyObject *s = name ? PyUnicode_FromFormat("<%s %U>", what, name) : NULL;
    Py_XDECREF(name);
    if (s) {
        fmt_text(w, s, REPR_LIMIT);
        Py_DECREF(s);
    } else {
        PyErr_Clear();
        jsonw_lit(w, "\"<object>\"");
    }
    return 1;
}

/* Runs no code of the application: every type is read through its builtin
 * base's C representation (a subclass of list is shown as a list, without
 * its overridden methods), and other objects by their instance attributes. */
void fmt_value(jsonw *w, PyObject *v, int level, int depth)
{
    if (w->overflow)
        return;
    if (v == Py_None) { jsonw_lit(w, "null"); return; }
    if (v == Py_True) { jsonw_lit(w, "true"); return; }
    if (v == Py_False) { jsonw_lit(w, "false"); return; }
    if (PyLong_Check(v)) { fmt_int(w, v); return; }
    if (PyFloat_Check(v)) { fmt_float(w, PyFloat_AS_DOUBLE(v)); return; }
    if (PyUnicode_Check(v)) { fmt_text(w, v, str_limit(w)); return; }
    if (PyBytes_Check(v)) { fmt_bytes(w, v); return; }
    if (fmt_named(w, v)) return;
    if (level >= depth) { fmt_at_limit(w, v); return; }
    if (Py_EnterRecursiveCall(" while formatting a value")) {   /* -x bounds it; belt and braces */
        PyErr_Clear();
        jsonw_lit(w, "null");
        return;
    }
    if (PyTuple_Check(v)) {
        Py_ssize_t n = PyTuple_GET_SIZE(v);
        Py_ssize_t lim = items_limit(w);
        fmt_seq(w, &PyTuple_GET_ITEM(v, 0), n < lim ? n : lim, n, level, depth);
    } else if (PyList_Check(v)) {
        fmt_list(w, v, level, depth);
    } else if (PyDict_Check(v)) {
        fmt_dict(w, v, level, depth);
    } else if (PyAnySet_Check(v)) {
        fmt_set(w, v, level, depth);
    } else {
        fmt_object(w, v, level, depth);
    }
    Py_LeaveRecursiveCall();
}

/* A str as a JSON string (file names, function names), or null. */
void fmt_text_or_null(jsonw *w, PyObject *s)
{
    Py_ssize_t n;
    const char *u = s && PyUnicode_Check(s) ? PyUnicode_AsUTF8AndSize(s, &n) : NULL;
    if (u) {
        jsonw_str(w, u, (size_t)n);
    } else {
        PyErr_Clear();
        jsonw_lit(w, "null");
    }
}

/* "Type: message", Peeka's throwExp. */
void fmt_exception(jsonw *w, PyObject *exc)
{
    const char *tname = Py_TYPE(exc)->tp_name;
    const char *dot = strrchr(tname, '.');
    /* The message as the nearest builtin exception type prints it (from
     * args): an application's __str__ override is its code. */
    PyTypeObject *base = Py_TYPE(exc);
    while (base && (base->tp_flags & Py_TPFLAGS_HEAPTYPE))
        base = base->tp_base;
    PyObject *msg = base && base->tp_str ? base->tp_str(exc) : NULL;
    if (!msg)
        PyErr_Clear();
    else if (fmt_rules(w))   /* `password=...` in a message */
        msg = redactor_message(fmt_rules(w), msg);
    PyObject *full = msg ? PyUnicode_FromFormat("%s: %U", dot ? dot + 1 : tname, msg)
                         : PyUnicode_FromFormat("%s: <str failed>", dot ? dot + 1 : tname);
    Py_XDECREF(msg);
    if (!full) { PyErr_Clear(); jsonw_lit(w, "\"<exception>\""); return; }
    fmt_text(w, full, str_limit(w));
    Py_DECREF(full);
}

/* "module.Qualname" for a function, as a ready-made JSON string. */
int fmt_qualname(PyObject *func, char **out, size_t *outlen)
{
    PyObject *mod = PyObject_GetAttrString(func, "__module__");
    PyObject *qual = PyObject_GetAttrString(func, "__qualname__");
    PyObject *full = NULL;
    if (mod && qual && PyUnicode_Check(mod) && PyUnicode_Check(qual))
        full = PyUnicode_FromFormat("%U.%U", mod, qual);
    else if (qual && PyUnicode_Check(qual))
        full = (Py_INCREF(qual), qual);
    Py_XDECREF(mod);
    Py_XDECREF(qual);
    if (!full) { PyErr_Clear(); full = PyUnicode_FromString("<unknown>"); }
    if (!full) return -1;
    jsonw w;
    if (jsonw_init(&w, 128, 8192) < 0) { Py_DECREF(full); return -1; }
    fmt_text(&w, full, FMT_STRING);
    Py_DECREF(full);
    *out = w.buf;
    *outlen = w.len;
    return 0;
}
