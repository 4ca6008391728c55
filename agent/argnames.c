/* The names of a hooked function's positional parameters: what params[i]
 * is called, for redaction by parameter name and for the records'
 * param_names (which lets peeka-analyze's redact script do the same
 * later).  Read from the code object once, and again only if the program
 * gave the function another __code__. */
#include "redactor.h"

static PyObject *varnames(PyCodeObject *co)
{
#if PY_VERSION_HEX >= 0x030B0000
    return PyCode_GetVarnames(co);   /* built from co_localsplusnames: a new tuple */
#else
    Py_INCREF(co->co_varnames);
    return co->co_varnames;
#endif
}

/* `,"param_names":["a","b","*rest"]`, self left out as in params. */
static int names_json(const hooked *h, PyObject *names, PyObject *star, char **out, size_t *outlen)
{
    jsonw w;
    if (jsonw_init(&w, 128, 65536) < 0)
        return -1;
    jsonw_lit(&w, ",\"param_names\":[");
    for (Py_ssize_t i = h->has_self ? 1 : 0, k = 0; i < PyTuple_GET_SIZE(names); i++, k++) {
        if (k) jsonw_char(&w, ',');
        fmt_text_or_null(&w, PyTuple_GET_ITEM(names, i));
    }
    if (star) {
        PyObject *s = PyUnicode_FromFormat("*%U", star);
        if (!s) { PyErr_Clear(); jsonw_free(&w); return -1; }
        if (PyTuple_GET_SIZE(names) > (h->has_self ? 1 : 0)) jsonw_char(&w, ',');
        fmt_text_or_null(&w, s);
        Py_DECREF(s);
    }
    jsonw_char(&w, ']');
    if (w.overflow) { jsonw_free(&w); return -1; }
    *out = w.buf;
    *outlen = w.len;
    return 0;
}

/* Everything is built aside and swapped in at once: building may let the
 * GIL go (an allocation can run the collector), and another thread may
 * sync the same h meanwhile. */
int argnames_sync(hooked *h)
{
    PyObject *code = PyFunction_GET_CODE(h->func);
    if (code == h->names_code)
        return 0;
    PyCodeObject *co = (PyCodeObject *)code;
    PyObject *vn = varnames(co), *names = NULL, *star = NULL;
    char *json = NULL;
    size_t jlen = 0;
    if (vn && PyTuple_Check(vn) && PyTuple_GET_SIZE(vn) >= co->co_argcount)
        names = PyTuple_GetSlice(vn, 0, co->co_argcount);
    Py_ssize_t at = co->co_argcount + co->co_kwonlyargcount;
    if (names && (co->co_flags & CO_VARARGS) && at < PyTuple_GET_SIZE(vn)) {
        star = PyTuple_GET_ITEM(vn, at);
        Py_INCREF(star);
    }
    Py_XDECREF(vn);
    if (!names || names_json(h, names, star, &json, &jlen) < 0) {
        PyErr_Clear();
        Py_XDECREF(names);
        Py_XDECREF(star);
        argnames_free(h);   /* names of an older __code__ would be wrong ones */
        return -1;          /* tried again at the next call */
    }
    if (code == h->names_code) {   /* another thread got there first */
        Py_DECREF(names);
        Py_XDECREF(star);
        free(json);
        return 0;
    }
    PyObject *old_code = h->names_code, *old_names = h->argnames, *old_star = h->starname;
    char *old_json = h->names_json;
    Py_INCREF(code);
    h->names_code = code;
    h->argnames = names;
    h->starname = star;
    h->names_json = json;
    h->names_json_len = jlen;
    h->names_gen++;
    free(old_json);
    Py_XDECREF(old_names);
    Py_XDECREF(old_star);
    Py_XDECREF(old_code);
    return 0;
}

PyObject *argnames_at(const hooked *h, Py_ssize_t i)
{
    if (!h->argnames)
        return NULL;
    return i < PyTuple_GET_SIZE(h->argnames) ? PyTuple_GET_ITEM(h->argnames, i) : h->starname;
}

void argnames_write(jsonw *w, const hooked *h)
{
    if (h->names_json)
        jsonw_raw(w, h->names_json, h->names_json_len);
}

void argnames_free(hooked *h)
{
    free(h->names_json);
    h->names_json = NULL;
    h->names_gen++;
    Py_CLEAR(h->argnames);
    Py_CLEAR(h->starname);
    Py_CLEAR(h->names_code);
}
