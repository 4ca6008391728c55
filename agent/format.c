/* Python values as JSON, with Peeka's limits (docs/format.md, "Value
 * formatting").  Runs inside hooks: it must never raise, never recurse
 * without bound, and must leave the caller's exception state alone. */
#include "agent.h"

#include <math.h>
#include <string.h>

#define STR_LIMIT   1000
#define BYTES_HEX   100
#define ITEMS_LIMIT 20
#define ATTRS_LIMIT 10
#define REPR_LIMIT  200

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
    if (u) {
        jsonw_str(w, u, (size_t)len);
    } else {   /* lone surrogates: not representable in UTF-8 */
        PyErr_Clear();
        jsonw_lit(w, "\"<unprintable str>\"");
    }
    Py_XDECREF(cut);
}

/* repr(v) cut to REPR_LIMIT characters; a failing __repr__ is reported,
 * never propagated. */
static void fmt_repr(jsonw *w, PyObject *v)
{
    PyObject *r = PyObject_Repr(v);
    if (!r) {
        PyObject *t, *val, *tb;
        PyErr_Fetch(&t, &val, &tb);
        jsonw_lit(w, "\"<repr failed: ");
        const char *name = t ? ((PyTypeObject *)t)->tp_name : "?";
        jsonw_raw(w, name, strlen(name));   /* type names are identifiers */
        jsonw_lit(w, ">\"");
        Py_XDECREF(t); Py_XDECREF(val); Py_XDECREF(tb);
        return;
    }
    fmt_text(w, r, REPR_LIMIT);
    Py_DECREF(r);
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
    fmt_repr(w, v);
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

static void fmt_seq(jsonw *w, PyObject *const *items, Py_ssize_t n, int level, int depth)
{
    jsonw_char(w, '[');
    Py_ssize_t shown = n < ITEMS_LIMIT ? n : ITEMS_LIMIT;
    for (Py_ssize_t i = 0; i < shown; i++) {
        if (i) jsonw_char(w, ',');
        fmt_value(w, items[i], level + 1, depth);
    }
    if (n > shown) jsonw_lit(w, ",\"...\"");
    jsonw_char(w, ']');
}

static void fmt_key(jsonw *w, PyObject *k)
{
    if (PyUnicode_Check(k)) {
        fmt_text(w, k, STR_LIMIT);
        return;
    }
    PyObject *s = PyObject_Str(k);
    if (!s) { PyErr_Clear(); jsonw_lit(w, "\"<key>\""); return; }
    fmt_text(w, s, STR_LIMIT);
    Py_DECREF(s);
}

static void fmt_dict(jsonw *w, PyObject *d, int level, int depth, int public_only, int limit)
{
    Py_ssize_t pos = 0, shown = 0;
    PyObject *k, *v;
    jsonw_char(w, '{');
    while (PyDict_Next(d, &pos, &k, &v)) {
        if (public_only && (!PyUnicode_Check(k) || PyUnicode_READ_CHAR(k, 0) == '_'))
            continue;
        if (shown == limit) { jsonw_lit(w, ",\"...\":\"...\""); break; }
        if (shown++) jsonw_char(w, ',');
        fmt_key(w, k);
        jsonw_char(w, ':');
        fmt_value(w, v, level + 1, depth);
    }
    jsonw_char(w, '}');
}

static void fmt_set(jsonw *w, PyObject *s, int level, int depth)
{
    PyObject *it = PyObject_GetIter(s);
    if (!it) { PyErr_Clear(); fmt_repr(w, s); return; }
    jsonw_lit(w, "{\"__set__\":[");
    PyObject *x;
    int n = 0;
    while ((x = PyIter_Next(it))) {
        if (n == ITEMS_LIMIT) { Py_DECREF(x); jsonw_lit(w, ",\"...\""); break; }
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
    /* type.__module__ is a getset of `type` itself: no user code runs. */
    PyObject *mod = PyObject_GetAttrString((PyObject *)t, "__module__");
    if (!mod)
        PyErr_Clear();
    const char *name = t->tp_name;
    const char *dot = strrchr(name, '.');
    jsonw_char(w, '"');
    if (mod && PyUnicode_Check(mod)) {
        Py_ssize_t n;
        const char *m = PyUnicode_AsUTF8AndSize(mod, &n);
        if (m) {
            jsonw_raw(w, m, (size_t)n);
            jsonw_char(w, '.');
            name = dot ? dot + 1 : name;
        } else {
            PyErr_Clear();
        }
    }
    jsonw_raw(w, name, strlen(name));
    jsonw_char(w, '"');
    Py_XDECREF(mod);
}

/* Reads the instance __dict__ directly: dir() or getattr would run user
 * properties and __getattr__, which a diagnostic tool must not trigger. */
static void fmt_object(jsonw *w, PyObject *v, int level, int depth)
{
    PyObject **dictp = _PyObject_GetDictPtr(v);
    jsonw_lit(w, "{\"__class__\":");
    fmt_class_name(w, Py_TYPE(v));
    jsonw_lit(w, ",\"__attrs__\":");
    if (dictp && *dictp && PyDict_Check(*dictp))
        fmt_dict(w, *dictp, level, depth, 1, ATTRS_LIMIT);
    else
        jsonw_lit(w, "{}");
    jsonw_char(w, '}');
}

void fmt_value(jsonw *w, PyObject *v, int level, int depth)
{
    if (w->overflow)
        return;
    if (v == Py_None) { jsonw_lit(w, "null"); return; }
    if (v == Py_True) { jsonw_lit(w, "true"); return; }
    if (v == Py_False) { jsonw_lit(w, "false"); return; }
    if (PyLong_CheckExact(v)) { fmt_int(w, v); return; }
    if (PyFloat_CheckExact(v)) { fmt_float(w, PyFloat_AS_DOUBLE(v)); return; }
    if (PyUnicode_Check(v)) { fmt_text(w, v, STR_LIMIT); return; }
    if (PyBytes_Check(v)) { fmt_bytes(w, v); return; }
    if (level >= depth) { fmt_repr(w, v); return; }
    if (PyTuple_Check(v)) {
        fmt_seq(w, &PyTuple_GET_ITEM(v, 0), PyTuple_GET_SIZE(v), level, depth);
        return;
    }
    if (PyList_Check(v)) {
        /* Copy: formatting may run user code that mutates the list. */
        PyObject *t = PyList_AsTuple(v);
        if (!t) { PyErr_Clear(); jsonw_lit(w, "null"); return; }
        fmt_seq(w, &PyTuple_GET_ITEM(t, 0), PyTuple_GET_SIZE(t), level, depth);
        Py_DECREF(t);
        return;
    }
    if (PyDict_Check(v)) {
        PyObject *c = PyDict_Copy(v);
        if (!c) { PyErr_Clear(); jsonw_lit(w, "null"); return; }
        fmt_dict(w, c, level, depth, 0, ITEMS_LIMIT);
        Py_DECREF(c);
        return;
    }
    if (PyAnySet_Check(v)) { fmt_set(w, v, level, depth); return; }
    if (PyLong_Check(v)) { fmt_int(w, v); return; }      /* int subclasses, bool handled */
    if (PyFloat_Check(v)) { fmt_float(w, PyFloat_AS_DOUBLE(v)); return; }
    if (PyType_Check(v) || PyCallable_Check(v) || PyModule_Check(v)) { fmt_repr(w, v); return; }
    fmt_object(w, v, level, depth);
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
    PyObject *msg = PyObject_Str(exc);
    if (!msg)
        PyErr_Clear();
    PyObject *full = msg ? PyUnicode_FromFormat("%s: %U", dot ? dot + 1 : tname, msg)
                         : PyUnicode_FromFormat("%s: <str failed>", dot ? dot + 1 : tname);
    Py_XDECREF(msg);
    if (!full) { PyErr_Clear(); jsonw_lit(w, "\"<exception>\""); return; }
    fmt_text(w, full, STR_LIMIT);
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
    fmt_text(&w, full, STR_LIMIT);
    Py_DECREF(full);
    *out = w.buf;
    *outlen = w.len;
    return 0;
}
