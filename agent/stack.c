/* The stack probe (Peeka's `stack`): a watch-like AtEnter record with the
 * Python call stack, innermost first, the observed function itself on top
 * (at its `def` line: its frame does not exist yet).  Only code objects and
 * line numbers are read: no source file is opened inside a hook, so
 * code_context is always null. */
#include "stack.h"

#include "pyframes.h"

/* At most `depth` entries: the called function, then its callers. */
static void write_stack(jsonw *w, const call *c, int depth)
{
    jsonw_lit(w, ",\"stack\":[");
    PyCodeObject *own = (PyCodeObject *)PyFunction_GET_CODE(c->h->func);
    pyframe_write(w, own, own->co_firstlineno, 1);
    pyframes_write(w, PyEval_GetFrame(), depth - 1, 0, 0);
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
