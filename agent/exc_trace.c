/* throwTrace: where an exception came from, as frames {file, line,
 * function} from the observed function down to the raise, innermost last
 * (Python's own traceback order).  Read from the traceback's C fields and
 * the frames' public accessors, so no application code runs (attribute
 * lookups on tracebacks and frames also kept frame objects alive longer:
 * test_watch_async's leak check saw it); at most TRACE_FRAMES frames, the
 * innermost kept: that is where it failed. */
#include "agent.h"

#include <frameobject.h>

#define TRACE_FRAMES 32

static PyCodeObject *frame_code(PyFrameObject *f)   /* new reference */
{
#if PY_VERSION_HEX >= 0x03090000
    return PyFrame_GetCode(f);
#else
    Py_INCREF(f->f_code);
    return f->f_code;
#endif
}

/* The traceback's own fields and the frame's public accessors: no
 * attribute lookup, nothing that could reach application code.  The line
 * is the frame's last one, where it was when the exception left it. */
static void write_frame(jsonw *w, PyTracebackObject *tb)
{
    PyFrameObject *f = tb->tb_frame;
    PyCodeObject *code = f ? frame_code(f) : NULL;
    int line = f ? PyFrame_GetLineNumber(f) : -1;
#if PY_VERSION_HEX >= 0x030B0000
    PyObject *name = code ? code->co_qualname : NULL;
#else
    PyObject *name = code ? code->co_name : NULL;
#endif
    jsonw_lit(w, "{\"file\":");
    fmt_text_or_null(w, code && PyUnicode_Check(code->co_filename) ? code->co_filename : NULL);
    jsonw_lit(w, ",\"line\":");
    if (line >= 0)
        jsonw_i64(w, line);
    else
        jsonw_lit(w, "null");
    jsonw_lit(w, ",\"function\":");
    fmt_text_or_null(w, name && PyUnicode_Check(name) ? name : NULL);
    jsonw_char(w, '}');
    Py_XDECREF(code);
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
    for (PyTracebackObject *tb = (PyTracebackObject *)first; tb && PyTraceBack_Check(tb); tb = tb->tb_next)
        n++;
    Py_ssize_t skip = n > TRACE_FRAMES ? n - TRACE_FRAMES : 0, i = 0;
    jsonw_char(w, '[');
    for (PyTracebackObject *tb = (PyTracebackObject *)first; tb && PyTraceBack_Check(tb);
         tb = tb->tb_next, i++) {
        if (i > skip)
            jsonw_char(w, ',');
        if (i >= skip)
            write_frame(w, tb);
    }
    jsonw_char(w, ']');
    PyErr_Clear();
    Py_XDECREF(first);
}
