/* throwTrace: where an exception came from, as frames {file, line,
 * function} from the observed function down to the raise, innermost last
 * (Python's own traceback order).  Read from the traceback's builtin
 * objects (traceback, frame, code), so no application code runs; at most
 * TRACE_FRAMES of them, the innermost kept: that is where it failed. */
#include "agent.h"

#define TRACE_FRAMES 32

/* obj.name for a builtin type's attribute (a C getter), new ref or NULL. */
static PyObject *attr(PyObject *obj, const char *name)
{
    PyObject *v = obj ? PyObject_GetAttrString(obj, name) : NULL;
    if (!v)
        PyErr_Clear();
    return v;
}

static void write_frame(jsonw *w, PyObject *tb)
{
    PyObject *frame = attr(tb, "tb_frame"), *line = attr(tb, "tb_lineno");
    PyObject *code = attr(frame, "f_code");
    PyObject *name = attr(code, PY_VERSION_HEX >= 0x030B0000 ? "co_qualname" : "co_name");
    PyObject *file = attr(code, "co_filename");
    long lineno = line && PyLong_Check(line) ? PyLong_AsLong(line) : -1;
    if (lineno == -1)
        PyErr_Clear();
    jsonw_lit(w, "{\"file\":");
    fmt_text_or_null(w, file && PyUnicode_Check(file) ? file : NULL);
    jsonw_lit(w, ",\"line\":");
    if (lineno >= 0)
        jsonw_i64(w, lineno);
    else
        jsonw_lit(w, "null");
    jsonw_lit(w, ",\"function\":");
    fmt_text_or_null(w, name && PyUnicode_Check(name) ? name : NULL);
    jsonw_char(w, '}');
    Py_XDECREF(frame);
    Py_XDECREF(line);
    Py_XDECREF(code);
    Py_XDECREF(name);
    Py_XDECREF(file);
}

static PyObject *next_tb(PyObject *tb)
{
    PyObject *n = attr(tb, "tb_next");
    if (n && !PyTraceBack_Check(n))
        Py_CLEAR(n);
    return n;
}

void write_throw_trace(jsonw *w, PyObject *exc)
{
    jsonw_lit(w, ",\"throwTrace\":");
    if (!exc) {
        jsonw_lit(w, "null");
        return;
    }
    PyObject *first = PyException_GetTraceback(exc);
    Py_ssize_t n = 0;
    PyObject *tb = first;
    Py_XINCREF(tb);
    while (tb) {
        PyObject *nx = next_tb(tb);
        Py_DECREF(tb);
        tb = nx;
        n++;
    }
    Py_ssize_t skip = n > TRACE_FRAMES ? n - TRACE_FRAMES : 0, i = 0;
    jsonw_char(w, '[');
    for (tb = first; tb; i++) {
        if (i > skip)
            jsonw_char(w, ',');
        if (i >= skip)
            write_frame(w, tb);
        PyObject *nx = next_tb(tb);
        Py_DECREF(tb);
        tb = nx;
    }
    jsonw_char(w, ']');
}
