/* Condition expressions (`watch --condition 'x + y > 10'`): a small, safe
 * subset of Python expressions, compiled once when a probe is installed and
 * evaluated in the hook.  Grammar, names and limits: docs/conditions.md.
 *
 * Compiling needs no Python API (cond_parse.c); define PEEKA_COND_NO_PYTHON
 * before including this header to get only that half. */
#ifndef PEEKA_COND_H
#define PEEKA_COND_H

#include <stddef.h>

typedef struct peeka_cond peeka_cond;   /* compiled expression, immutable after compile */

/* Compiles src; on error returns NULL and writes "col N: what is wrong" into
 * err (N is a 1-based byte column).  Limits: source <= 4096 bytes, AST nodes
 * <= 512, nesting <= 64. */
peeka_cond *peeka_cond_compile(const char *src, char *err, size_t errlen);
void peeka_cond_free(peeka_cond *c);

/* True when the expression mentions name (so the hook can skip building
 * values nobody reads, e.g. "cost" or "returnObj"). */
int peeka_cond_uses(const peeka_cond *c, const char *name);

/* True when the expression calls the method `name` (`d.values()`). */
int peeka_cond_uses_method(const peeka_cond *c, const char *name);

/* Calls fn on every name, attribute name and string or bytes constant of
 * c (NUL-terminated, n bytes); 1 as soon as fn says 1.  Redaction asks it
 * whether a --record expression reads something a rule hides. */
int peeka_cond_any_text(const peeka_cond *c, int (*fn)(void *ctx, const char *s, size_t n), void *ctx);

#ifndef PEEKA_COND_NO_PYTHON
#define PY_SSIZE_T_CLEAN
#include <Python.h>

typedef struct peeka_cond_env {
    PyObject *const *args;   /* positional args exactly as the call received them
                                (vectorcall array), including self when has_self */
    Py_ssize_t nargs;        /* plain count: PyVectorcall_NARGS() already applied */
    PyObject *kwnames;       /* tuple of keyword names (values follow args[nargs..]) or NULL */
    PyObject *code;          /* the function's code object, for parameter names */
    int has_self;            /* args[0] is self/cls: excluded from params, exposed as target */
    PyObject *ret;           /* return value, or NULL (entry / exception) */
    PyObject *exc;           /* exception instance, or NULL */
    double cost_ms;          /* elapsed ms, or -1 at entry */
} peeka_cond_env;

/* 1 true, 0 false, -1 run-time error (counted by the caller as an error and
 * treated as false).  Requires the GIL.  Holds no state between calls.  An
 * exception pending on entry is preserved; none is left set otherwise. */
int peeka_cond_eval(const peeka_cond *c, const peeka_cond_env *env);

/* The expression's value (a new reference), or NULL with why in err.  Same
 * guarantees as peeka_cond_eval. */
PyObject *peeka_cond_value(const peeka_cond *c, const peeka_cond_env *env, char *err, size_t errlen);

/* The same, and on -1 writes why into err ("ZeroDivisionError: division by
 * zero", "parameter 'z' was not passed", ...) for the caller to report. */
int peeka_cond_eval_msg(const peeka_cond *c, const peeka_cond_env *env,
                        char *err, size_t errlen);
#endif

#endif
