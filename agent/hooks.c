/* Installing and removing the per-function hooks.
 *
 * Every version: the function object's own vectorcall pointer is replaced
 * (3.12+: PyFunction_SetVectorcall, which also drops specialisations), so
 * calls through any reference reach the hook, including references taken
 * before we arrived.
 *
 * 3.11 only: its eval loop inlines calls of exact `function` objects
 * without looking at vectorcall, so the function is also given a type of
 * ours for the recording (retype.h).  3.13+ and 3.14+ enter __init__ and
 * property getters directly: wrappers there (wrapper.h). */
#include "hooks.h"
#include "hooks_table.h"
#include "retype.h"
#include "dispatch.h"
#include "redactor.h"
#include "wrapper.h"

#include <string.h>

static vectorcallfunc function_vectorcall;   /* CPython's own, saved once */

static PyObject *hook_vectorcall(PyObject *callable, PyObject *const *args,
                                 size_t nargsf, PyObject *kwnames)
{
    hooked *h = hooks_table_find(callable);
    if (!h)   /* unreachable: the table outlives every installed pointer */
        return function_vectorcall(callable, args, nargsf, kwnames);
    return observe_call(h, callable, args, nargsf, kwnames);
}

static void set_vectorcall(PyObject *func, vectorcallfunc vc)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyFunction_SetVectorcall((PyFunctionObject *)func, vc);
#else
    ((PyFunctionObject *)func)->vectorcall = vc;
#endif
}

static hooked *hooked_new(PyObject *func, int has_self)
{
    hooked *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    if (fmt_qualname(func, &h->name_json, &h->name_json_len) < 0) {
        free(h);
        return NULL;
    }
    Py_INCREF(func);
    h->func = func;
    h->orig = ((PyFunctionObject *)func)->vectorcall;
    h->has_self = has_self;
    h->is_coro = (((PyCodeObject *)PyFunction_GET_CODE(func))->co_flags & CO_COROUTINE) != 0;
    if (!function_vectorcall)
        function_vectorcall = h->orig;
    return h;
}

static void hooked_free(hooked *h)
{
    argnames_free(h);
    Py_XDECREF(h->replacements);
    Py_DECREF(h->func);
    free(h->name_json);
    free(h);
}

int hooks_install(probe *p, PyObject *func, int has_self, PyObject *ns, PyObject *key)
{
    hooked *h = hooks_table_find(func);
    int fresh = 0;
    if (!h) {
        if (!(h = hooked_new(func, has_self)))
            return -1;
        if (hooks_table_add(h) < 0) {
            hooked_free(h);
            return -1;
        }
        fresh = 1;
    }
    for (int i = 0; i < h->nprobes; i++)
        if (h->probes[i] == p)
            return 0;
    if (h->nprobes == MAX_PROBES_PER_FUNC) {
        PyErr_SetString(PyExc_RuntimeError, "too many probes on one function");
        return -1;
    }
    h->probes[h->nprobes++] = p;
    h->other_kinds += p->kind != PK_WATCH;
    if (observe_probes_changed(h, p) < 0) {
        h->nprobes--;
        h->other_kinds -= p->kind != PK_WATCH;
        if (fresh) {   /* never hooked: nothing to restore */
            hooks_table_remove(h);
            hooked_free(h);
        }
        return -1;
    }
    if (fresh) {
        set_vectorcall(func, hook_vectorcall);
        if (retype_function(func) < 0)
            PyErr_Clear();   /* uninlined calls still reach the hook */
        if (wrapper_install(h, ns, key) < 0)
            PyErr_Clear();   /* vectorcall still catches unspecialised calls */
    }
    PyObject *name = PyUnicode_FromStringAndSize(h->name_json + 1, (Py_ssize_t)h->name_json_len - 2);
    if (name) {
        PyList_Append(p->installed, name);
        Py_DECREF(name);
    }
    PyErr_Clear();
    return 0;
}

/* A hook call holding h (hooks.h) may have let the GIL go, in the original
 * function or in user code an observation runs, while we unhook: it comes
 * back and touches h, so h lives until the last such call has left. */
static void unhook(hooked *h)
{
    set_vectorcall(h->func, h->orig);
    retype_restore(h->func);
    wrapper_remove(h);
    hooks_table_remove(h);
    h->nprobes = 0;
    h->other_kinds = 0;
    (void)observe_probes_changed(h, NULL);   /* cannot fail when taking away */
    if (h->inflight)
        h->dead = 1;
    else
        hooked_free(h);
}

void hooks_free_dead(hooked *h)
{
    if (h->dead && h->inflight == 0)
        hooked_free(h);
}

void hooks_remove_probe(probe *p)
{
    hooked *list[4096];
    int n = hooks_table_collect(list, 4096);
    for (int i = 0; i < n; i++) {
        hooked *h = list[i];
        for (int j = 0; j < h->nprobes; j++) {
            if (h->probes[j] != p)
                continue;
            memmove(&h->probes[j], &h->probes[j + 1], sizeof(probe *) * (size_t)(h->nprobes - j - 1));
            h->nprobes--;
            h->other_kinds -= p->kind != PK_WATCH;
            if (h->nprobes > 0)
                (void)observe_probes_changed(h, NULL);
            break;
        }
        if (h->nprobes == 0)
            unhook(h);
    }
}

void hooks_remove_all(void)
{
    hooked *list[4096];
    int n;
    while ((n = hooks_table_collect(list, 4096)) > 0)
        for (int i = 0; i < n; i++)
            unhook(list[i]);
}

int hooks_count(void)
{
    return hooks_table_size();
}
