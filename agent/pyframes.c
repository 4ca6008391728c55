/* Python frames into records (pyframes.h). */
#include "pyframes.h"

#if PY_VERSION_HEX < 0x03090000
PyFrameObject *pyframe_back(PyFrameObject *f)
{
    Py_XINCREF(f->f_back);
    return f->f_back;
}

PyCodeObject *pyframe_code(PyFrameObject *f)
{
    Py_INCREF(f->f_code);
    return f->f_code;
}

PyFrameObject *pyframe_of_thread(PyThreadState *t)
{
    Py_XINCREF(t->frame);
    return t->frame;
}
#else
PyFrameObject *pyframe_back(PyFrameObject *f)
{
    return PyFrame_GetBack(f);
}

PyCodeObject *pyframe_code(PyFrameObject *f)
{
    return PyFrame_GetCode(f);
}

PyFrameObject *pyframe_of_thread(PyThreadState *t)
{
    return PyThreadState_GetFrame(t);
}
#endif

void pyframe_write(jsonw *w, PyCodeObject *code, int line, int first)
{
    if (!first)
        jsonw_char(w, ',');
    jsonw_lit(w, "{\"filename\":");
    fmt_text_or_null(w, code->co_filename);
    jsonw_lit(w, ",\"lineno\":");
    jsonw_i64(w, line);
    jsonw_lit(w, ",\"function\":");
    fmt_text_or_null(w, code->co_name);
    jsonw_lit(w, ",\"code_context\":null}");
}

int pyframes_write(jsonw *w, PyFrameObject *f, int max, int first, int count_all)
{
    Py_XINCREF(f);
    int n = 0;
    while (f && n < (count_all ? PYFRAMES_COUNT_MAX : max)) {
        if (n < max && !w->overflow) {
            PyCodeObject *code = pyframe_code(f);
            pyframe_write(w, code, PyFrame_GetLineNumber(f), first && n == 0);
            Py_DECREF(code);
        }
        n++;
        PyFrameObject *back = pyframe_back(f);
        Py_DECREF(f);
        f = back;
    }
    Py_XDECREF(f);
    return n;
}
