/* The stack probe (Peeka's `stack`): a watch-like AtEnter record with the
 * Python call stack, innermost first, the observed function itself on top
 * (at its `def` line: its frame does not exist yet).  Only code objects and
 * line numbers are read: no source file is opened inside a hook, so
 * code_context is always null. */
#include "stack.h"

#include <frameobject.h>

static void write_frame(jsonw *w, PyCodeObject *code, int line, int first)
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

#if PY_VERSION_HEX < 0x03090000
static PyFrameObject *frame_back(PyFrameObject *f)
{
    PyFrameObject *b = f->f_back;
    Py_XINCREF(b);
    return b;
}
static PyCodeObject *frame_code(PyFrameObject *f)
{
    Py_INCREF(f->f_code);
    return f->f_code;
}
#else
#define frame_back PyFrame_GetBack
#define frame_code PyFrame_GetCode
#endif

/* At most `depth` entries: the called function, then its callers. */
static void write_stack(jsonw *w, const call *c, int depth)
{
    jsonw_lit(w, ",\"stack\":[");
    PyCodeObject *own = (PyCodeObject *)PyFunction_GET_CODE(c->h->func);
    write_frame(w, own, own->co_firstlineno, 1);
    PyFrameObject *f = PyEval_GetFrame();
    Py_XINCREF(f);
    for (int n = 1; f && n < depth && !w->overflow; n++) {
        PyCodeObject *code = frame_code(f);
        write_frame(w, code, PyFrame_GetLineNumber(f), 0);
        Py_DECREF(code);
        PyFrameObject *back = frame_back(f);
        Py_DECREF(f);
        f = back;
    }
    Py_XDECREF(f);
    jsonw_char(w, ']');
}

static void build_record(jsonw *w, probe *p, const call *c, const void *arg)
{
    (void)arg;
    write_record_head(w, "stack", p, c);
    jsonw_lit(w, ",\"location\":\"AtEnter\"");
    write_args(w, c, p->depth);
    write_stack(w, c, p->max_depth);
    emit_thread_fields(w);
    jsonw_lit(w, "}\n");
}

void stack_observe(const call *c)
{
    hooked *h = c->h;
    for (int i = 0; i < h->nprobes; i++) {
        probe *p = h->probes[i];
        if (p->kind == PK_STACK && !p->done && condition_holds(p, c))
            observe_emit(p, c, build_record, NULL, 1);   /* huge arguments must not cost the stack */
        PyErr_Clear();
    }
}
