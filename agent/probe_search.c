/* sc and sm (Peeka's search-class and search-method): loaded classes whose
 * "module.Qualname" matches a glob, with their file and line; sm lists the
 * methods a matching class defines, with their kind and signature.  Only
 * what is imported already is searched (sys.modules), by reading
 * namespaces: nothing is imported, no descriptor or metaclass code runs.
 * A class's line is its __firstlineno__ (3.13+), else the first
 * `class NAME` line of its module's source file. */
#include "interp_probes.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SOURCE_MAX (8 << 20)   /* bytes of a source file looked through for a class line */
#define NEST_MAX 4             /* classes inside classes followed this deep */

/* Every class defined in an imported module, as (full name, class). */
static int add_classes(PyObject *out, PyObject *ns, PyObject *modname, int level)
{
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(ns, &pos, &k, &v)) {
        if (!PyType_Check(v) || !(((PyTypeObject *)v)->tp_flags & Py_TPFLAGS_HEAPTYPE))
            continue;
        PyTypeObject *t = (PyTypeObject *)v;
        PyObject *mod = PyDict_GetItemString(t->tp_dict, "__module__");
        if (!mod || !PyUnicode_Check(mod) || PyUnicode_Compare(mod, modname) != 0)
            continue;   /* imported here, defined elsewhere */
        PyObject *full = fmt_type_name(t);
        PyObject *row = full ? PyTuple_Pack(2, full, v) : NULL;
        Py_XDECREF(full);
        if (!row || PyDict_SetItem(out, PyTuple_GET_ITEM(row, 0), row) < 0) {
            Py_XDECREF(row);
            return -1;
        }
        Py_DECREF(row);
        if (level < NEST_MAX && add_classes(out, t->tp_dict, modname, level + 1) < 0)
            return -1;
    }
    return 0;
}

/* The matching classes sorted by name: a list of (name, class). */
static PyObject *find_classes(const char *pattern)
{
    PyObject *mods = PySys_GetObject("modules");
    PyObject *items = mods && PyDict_Check(mods) ? PyDict_Items(mods) : NULL;
    PyObject *found = items ? PyDict_New() : NULL, *rows = found ? PyList_New(0) : NULL;
    for (Py_ssize_t i = 0; rows && i < PyList_GET_SIZE(items); i++) {
        PyObject *name = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 0);
        PyObject *m = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 1);
        if (PyModule_Check(m) && PyUnicode_Check(name) && add_classes(found, PyModule_GetDict(m), name, 0) < 0)
            Py_CLEAR(rows);
    }
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (rows && PyDict_Next(found, &pos, &k, &v)) {
        const char *s = PyUnicode_AsUTF8(k);
        if (s && fnmatch(pattern, s, 0) == 0 && PyList_Append(rows, v) < 0)
            Py_CLEAR(rows);
    }
    if (rows && PyList_Sort(rows) < 0)
        Py_CLEAR(rows);
    Py_XDECREF(found);
    Py_XDECREF(items);
    PyErr_Clear();
    return rows;
}

/* The first line of path (1-based) that starts `class NAME` followed by
 * ( or :, or 0. */
static long class_line_in_file(const char *path, const char *name)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char *buf = malloc(SOURCE_MAX + 1);
    size_t len = 0;
    while (buf && len < SOURCE_MAX) {
        ssize_t n = read(fd, buf + len, SOURCE_MAX - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    (void)close(fd);
    if (!buf)
        return 0;
    buf[len] = 0;
    char re[300];
    snprintf(re, sizeof re, "^[ \t]*class[ \t]+%s[ \t]*[(:]", name);
    regex_t rx;
    long line = 0;
    if (regcomp(&rx, re, REG_EXTENDED | REG_NEWLINE | REG_NOSUB) == 0) {
        line = 1;
        for (char *s = buf; s; line++) {
            char *nl = strchr(s, '\n');
            if (nl) *nl = 0;
            int hit = regexec(&rx, s, 0, NULL, 0) == 0;
            if (nl) *nl = '\n';
            if (hit)
                break;
            s = nl ? nl + 1 : NULL;
            if (!s)
                line = 0;
        }
        regfree(&rx);
    }
    free(buf);
    return line;
}

static PyObject *module_file(PyTypeObject *t)
{
    PyObject *mod = PyDict_GetItemString(t->tp_dict, "__module__");
    const char *name = mod && PyUnicode_Check(mod) ? PyUnicode_AsUTF8(mod) : NULL;
    PyObject *m = name ? snap_import(name) : NULL;
    PyObject *f = m ? snap_own_attr(m, "__file__") : NULL;
    Py_XDECREF(m);
    PyErr_Clear();
    if (f && !PyUnicode_Check(f))
        Py_CLEAR(f);
    return f;
}

static long class_line(PyTypeObject *t, PyObject *file)
{
    PyObject *fl = PyDict_GetItemString(t->tp_dict, "__firstlineno__");
    if (fl && PyLong_Check(fl))
        return PyLong_AsLong(fl);
    const char *p = file ? PyUnicode_AsUTF8(file) : NULL;
    char path[4096], name[256];
    PyErr_Clear();
    /* copies: another thread may rename the class while the GIL is let go */
    if (!p || snprintf(path, sizeof path, "%s", p) >= (int)sizeof path ||
        snprintf(name, sizeof name, "%s", t->tp_name) >= (int)sizeof name)   /* heap types: the bare name */
        return 0;
    for (const char *c = name; *c; c++)
        if (!(*c == '_' || (*c >= '0' && *c <= '9') || ((*c | 32) >= 'a' && (*c | 32) <= 'z')))
            return 0;   /* not an ASCII identifier: no pattern is built from it */
    long line;
    Py_BEGIN_ALLOW_THREADS   /* file I/O: the program's threads run meanwhile */
    line = class_line_in_file(path, name);
    Py_END_ALLOW_THREADS
    return line;
}

static void write_class(jsonw *w, PyObject *name, PyTypeObject *t)
{
    PyObject *file = module_file(t);
    jsonw_lit(w, "{\"name\":");
    fmt_text_or_null(w, name);
    jsonw_lit(w, ",\"module\":");
    fmt_text_or_null(w, PyDict_GetItemString(t->tp_dict, "__module__"));
    jsonw_lit(w, ",\"qualname\":");
    fmt_text_or_null(w, ((PyHeapTypeObject *)t)->ht_qualname);
    jsonw_lit(w, ",\"file\":");
    fmt_text_or_null(w, file);
    jsonw_lit(w, ",\"line\":");
    long line = class_line(t, file);
    if (line > 0)
        jsonw_i64(w, line);
    else
        jsonw_lit(w, "null");
    jsonw_lit(w, ",\"bases\":[");
    PyObject *bases = t->tp_bases;
    for (Py_ssize_t i = 0; bases && PyTuple_Check(bases) && i < PyTuple_GET_SIZE(bases); i++) {
        PyObject *bn = fmt_type_name((PyTypeObject *)PyTuple_GET_ITEM(bases, i));
        if (i) jsonw_char(w, ',');
        fmt_text_or_null(w, bn);
        Py_XDECREF(bn);
    }
    jsonw_lit(w, "]}");
    Py_XDECREF(file);
    PyErr_Clear();
}

/* What a class attribute is as a method, and the function behind it:
 * only the builtin descriptor types, whose fields are read, not run. */
static const char *method_kind(PyObject *v, PyObject **fn)
{
    *fn = NULL;
    if (PyFunction_Check(v)) {
        *fn = (Py_INCREF(v), v);
        return "function";
    }
    const char *kind = NULL, *attr = NULL;
    if (Py_TYPE(v) == &PyClassMethod_Type) kind = "classmethod", attr = "__func__";
    else if (Py_TYPE(v) == &PyStaticMethod_Type) kind = "staticmethod", attr = "__func__";
    else if (Py_TYPE(v) == &PyProperty_Type) kind = "property", attr = "fget";
    if (!kind) {
        PyObject *tn = fmt_type_name(Py_TYPE(v));
        const char *s = tn ? PyUnicode_AsUTF8(tn) : NULL;
        if (s && !strcmp(s, "functools.cached_property")) {
            Py_DECREF(tn);
            *fn = snap_own_attr(v, "func");
            return "cached_property";
        }
        Py_XDECREF(tn);
        PyErr_Clear();
        return NULL;
    }
    *fn = PyObject_GetAttrString(v, attr);   /* a member of the builtin descriptor */
    PyErr_Clear();
    return kind;
}

/* A default value as source would show it, for builtin scalars; else "...". */
static void append_default(PyObject *parts, PyObject *name, PyObject *dflt)
{
    PyObject *r = NULL;
    if (dflt == Py_None || PyBool_Check(dflt) || PyLong_CheckExact(dflt) || PyFloat_CheckExact(dflt) ||
        (PyUnicode_CheckExact(dflt) && PyUnicode_GET_LENGTH(dflt) <= 40))
        r = PyObject_Repr(dflt);
    PyObject *s = r ? PyUnicode_FromFormat("%U=%U", name, r) : PyUnicode_FromFormat("%U=...", name);
    Py_XDECREF(r);
    if (s)
        PyList_Append(parts, s);
    Py_XDECREF(s);
}

static long code_int(PyObject *code, const char *name)
{
    PyObject *v = PyObject_GetAttrString(code, name);
    long r = v && PyLong_Check(v) ? PyLong_AsLong(v) : 0;
    Py_XDECREF(v);
    PyErr_Clear();
    return r;
}

static void append_text(PyObject *parts, PyObject *s)
{
    if (s)
        PyList_Append(parts, s);
    Py_XDECREF(s);
}

/* The positional parameters, their defaults and the `/` after the
 * positional-only ones. */
static void positional(PyObject *parts, PyObject *names, long npos, long nonly, PyObject *defaults)
{
    long ndef = defaults && PyTuple_Check(defaults) ? (long)PyTuple_GET_SIZE(defaults) : 0;
    for (long i = 0; i < npos && i < PyTuple_GET_SIZE(names); i++) {
        PyObject *n = PyTuple_GET_ITEM(names, i);
        if (i >= npos - ndef)
            append_default(parts, n, PyTuple_GET_ITEM(defaults, i - (npos - ndef)));
        else
            PyList_Append(parts, n);
        if (nonly && i + 1 == nonly)
            append_text(parts, PyUnicode_FromString("/"));
    }
}

/* `*args` (or a bare `*`), the keyword-only parameters, `**kw`: in
 * co_varnames they follow the positional ones as kw-only, *args, **kw. */
static void keywords(PyObject *parts, PyObject *names, long at, long nkw, long flags, PyObject *kwdefaults)
{
    Py_ssize_t nn = PyTuple_GET_SIZE(names);
    if (flags & CO_VARARGS && at + nkw < nn)
        append_text(parts, PyUnicode_FromFormat("*%U", PyTuple_GET_ITEM(names, at + nkw)));
    else if (nkw)
        append_text(parts, PyUnicode_FromString("*"));
    for (long i = at; i < at + nkw && i < nn; i++) {
        PyObject *n = PyTuple_GET_ITEM(names, i);
        PyObject *d = kwdefaults && PyDict_Check(kwdefaults) ? PyDict_GetItem(kwdefaults, n) : NULL;
        if (d)
            append_default(parts, n, d);
        else
            PyList_Append(parts, n);
    }
    long kwi = at + nkw + (flags & CO_VARARGS ? 1 : 0);
    if (flags & CO_VARKEYWORDS && kwi < nn)
        append_text(parts, PyUnicode_FromFormat("**%U", PyTuple_GET_ITEM(names, kwi)));
}

/* "(self, a, b=2, /, *args, c, **kw)" from the code object and defaults. */
static PyObject *signature_of(PyObject *fn)
{
    PyObject *code = PyFunction_GetCode(fn);
    PyObject *names = PyObject_GetAttrString(code, "co_varnames");
    PyObject *parts = PyList_New(0);
    PyObject *sig = NULL;
    if (names && PyTuple_Check(names) && parts) {
        long npos = code_int(code, "co_argcount");
        positional(parts, names, npos, code_int(code, "co_posonlyargcount"), PyFunction_GetDefaults(fn));
        keywords(parts, names, npos, code_int(code, "co_kwonlyargcount"), code_int(code, "co_flags"),
                 PyFunction_GetKwDefaults(fn));
        PyObject *sep = PyUnicode_FromString(", ");
        PyObject *joined = sep ? PyUnicode_Join(sep, parts) : NULL;
        sig = joined ? PyUnicode_FromFormat("(%U)", joined) : NULL;
        Py_XDECREF(joined);
        Py_XDECREF(sep);
    }
    Py_XDECREF(parts);
    Py_XDECREF(names);
    PyErr_Clear();
    return sig;
}

static void write_method(jsonw *w, PyObject *cls_name, PyObject *name, const char *kind, PyObject *fn)
{
    jsonw_lit(w, "{\"class\":");
    fmt_text_or_null(w, cls_name);
    jsonw_lit(w, ",\"name\":");
    fmt_text_or_null(w, name);
    jsonw_lit(w, ",\"kind\":");
    jsonw_str(w, kind, strlen(kind));
    int func = fn && PyFunction_Check(fn);
    PyObject *code = func ? PyFunction_GetCode(fn) : NULL;
    PyObject *sig = func ? signature_of(fn) : NULL;
    PyObject *file = code ? PyObject_GetAttrString(code, "co_filename") : NULL;
    PyErr_Clear();
    jsonw_lit(w, ",\"signature\":");
    fmt_text_or_null(w, sig);
    snap_bool(w, "async", code && (code_int(code, "co_flags") & CO_COROUTINE));
    jsonw_lit(w, ",\"file\":");
    fmt_text_or_null(w, file);
    jsonw_lit(w, ",\"line\":");
    if (code)
        jsonw_i64(w, code_int(code, "co_firstlineno"));
    else
        jsonw_lit(w, "null");
    jsonw_char(w, '}');
    Py_XDECREF(file);
    Py_XDECREF(sig);
}

/* Names a method pattern matches: _private ones only when it starts with _. */
static int name_matches(const char *pat, const char *name)
{
    return (name[0] != '_' || pat[0] == '_') && fnmatch(pat, name, 0) == 0;
}

static int64_t write_methods(jsonw *w, PyObject *row, const char *pat, int64_t shown, int limit)
{
    PyTypeObject *t = (PyTypeObject *)PyTuple_GET_ITEM(row, 1);
    PyObject *keys = PyDict_Keys(t->tp_dict);
    int64_t n = 0;
    if (!keys || PyList_Sort(keys) < 0) {
        Py_XDECREF(keys);
        PyErr_Clear();
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(keys); i++) {
        PyObject *k = PyList_GET_ITEM(keys, i);
        const char *s = PyUnicode_Check(k) ? PyUnicode_AsUTF8(k) : NULL;
        PyObject *v = PyDict_GetItem(t->tp_dict, k), *fn;
        const char *kind = s && v && name_matches(pat, s) ? method_kind(v, &fn) : NULL;
        if (!kind)
            continue;
        if (shown + n < limit) {
            if (shown + n) jsonw_char(w, ',');
            write_method(w, PyTuple_GET_ITEM(row, 0), k, kind, fn);
        }
        Py_XDECREF(fn);
        n++;
    }
    Py_DECREF(keys);
    PyErr_Clear();
    return n;
}

int search_start(probe *p, char *err, size_t errlen)
{
    const char *at = p->snap->ended ? "end" : "start";
    PyObject *rows = find_classes(p->pattern);
    if (!rows) {
        snprintf(err, errlen, "%s %s: could not list the loaded classes", p->kind == PK_SC ? "sc" : "sm",
                 p->pattern);
        return -1;
    }
    jsonw *w = snap_begin(p, at);
    if (w) {
        int64_t n = 0;
        Py_ssize_t nrows = PyList_GET_SIZE(rows);
        if (p->kind == PK_SC) {
            jsonw_lit(w, ",\"classes\":[");
            for (Py_ssize_t i = 0; i < nrows && i < p->snap->limit; i++) {
                if (i) jsonw_char(w, ',');
                PyObject *row = PyList_GET_ITEM(rows, i);
                write_class(w, PyTuple_GET_ITEM(row, 0), (PyTypeObject *)PyTuple_GET_ITEM(row, 1));
            }
            n = nrows;
        } else {
            const char *pat = p->snap->name ? p->snap->name : "*";
            jsonw_lit(w, ",\"methods\":[");
            for (Py_ssize_t i = 0; i < nrows; i++)
                n += write_methods(w, PyList_GET_ITEM(rows, i), pat, n, p->snap->limit);
        }
        jsonw_lit(w, "],\"count\":");
        jsonw_i64(w, n);
        snap_bool(w, "truncated", n > p->snap->limit);
        snap_finish(p, w, at);
    }
    Py_DECREF(rows);
    return 0;
}
