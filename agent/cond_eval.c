/* Evaluates a compiled condition against one call, with the GIL held.
 *
 * What keeps it safe: only the operations cond_parse.c lets through exist;
 * calls go to a fixed set of builtins or to the builtin types' own method
 * descriptors (never to whatever a subclass put in their place); every
 * evaluation has a step budget and a size budget checked before anything
 * big is allocated; nothing survives the call.  User code can still run
 * (comparisons, __len__, __str__, properties), as in Python itself; whatever
 * it raises makes the condition an error, never escapes. */
#include "cond.h"
#include "cond_ast.h"

#include <stdio.h>
#include <string.h>

#define COND_MAX_STEPS   10000      /* node visits + elements iterated */
#define COND_MAX_ELEMS   (1 << 20)  /* characters/items built by + * replace */
#define COND_MAX_BITS    (1 << 16)  /* ints made by * and ** */
#define COND_MAX_INT_STR 4300       /* digits int() parses (CPython's default) */

typedef struct {
    const peeka_cond *c;
    const peeka_cond_env *env;
    long steps;
    Py_ssize_t elems;               /* left of COND_MAX_ELEMS */
    PyObject *params, *kwargs, *varnames;   /* built on first use */
} evalctx;

static PyObject *eval(evalctx *e, int idx);

static PyObject *new_ref(PyObject *o)
{
    Py_INCREF(o);
    return o;
}

static const char *pool_str(evalctx *e, const cond_node *nd)
{
    return e->c->pool + nd->v.s.off;
}

static int utf8_equal(PyObject *s, const char *name, size_t len)
{
    Py_ssize_t n;
    const char *u = PyUnicode_Check(s) ? PyUnicode_AsUTF8AndSize(s, &n) : NULL;
    if (!u) {
        PyErr_Clear();
        return 0;
    }
    return (size_t)n == len && memcmp(u, name, len) == 0;
}

/* ---- budgets ---- */

static int charge_steps(evalctx *e, Py_ssize_t n)
{
    e->steps += n;
    if (e->steps > COND_MAX_STEPS) {
        PyErr_Format(PyExc_RuntimeError, "condition exceeded %d evaluation steps", COND_MAX_STEPS);
        return -1;
    }
    return 0;
}

static int charge_elems(evalctx *e, Py_ssize_t n)
{
    if (n > e->elems) {
        PyErr_Format(PyExc_MemoryError, "condition would build more than %d items or characters",
                     COND_MAX_ELEMS);
        return -1;
    }
    e->elems -= n;
    return 0;
}

/* Length of a builtin sequence whose size is known without running user
 * code, or -1. */
static Py_ssize_t builtin_len(PyObject *o)
{
    if (PyUnicode_Check(o)) return PyUnicode_GET_LENGTH(o);
    if (PyBytes_Check(o)) return PyBytes_GET_SIZE(o);
    if (PyByteArray_Check(o)) return PyByteArray_GET_SIZE(o);
    if (PyList_Check(o)) return PyList_GET_SIZE(o);
    if (PyTuple_Check(o)) return PyTuple_GET_SIZE(o);
    return -1;
}

/* Bit length of an int, or -1 with an exception set. */
static long long_bits(PyObject *o)
{
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (!overflow) {
        unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
        long bits = 0;
        while (u) { bits++; u >>= 1; }
        return bits;
    }
    PyObject *m = PyObject_GetAttrString((PyObject *)&PyLong_Type, "bit_length");
    if (!m)
        return -1;
    PyObject *r = PyObject_CallFunctionObjArgs(m, o, NULL);
    Py_DECREF(m);
    if (!r)
        return -1;
    long bits = PyLong_AsLong(r);
    Py_DECREF(r);
    return bits;
}

/* ---- names ---- */

static PyObject *get_params(evalctx *e)
{
    if (!e->params) {
        const peeka_cond_env *env = e->env;
        Py_ssize_t skip = env->has_self && env->nargs > 0 ? 1 : 0;
        Py_ssize_t n = env->nargs - skip;
        e->params = PyTuple_New(n > 0 ? n : 0);
        if (!e->params)
            return NULL;
        for (Py_ssize_t i = 0; i < n; i++)
            PyTuple_SET_ITEM(e->params, i, new_ref(env->args[skip + i]));
    }
    return new_ref(e->params);
}

static PyObject *get_kwargs(evalctx *e)
{
    if (!e->kwargs) {
        const peeka_cond_env *env = e->env;
        e->kwargs = PyDict_New();
        if (!e->kwargs)
            return NULL;
        Py_ssize_t n = env->kwnames ? PyTuple_GET_SIZE(env->kwnames) : 0;
        for (Py_ssize_t i = 0; i < n; i++)
            if (PyDict_SetItem(e->kwargs, PyTuple_GET_ITEM(env->kwnames, i), env->args[env->nargs + i]) < 0)
                return NULL;
    }
    return new_ref(e->kwargs);
}

/* "Type: message", as Peeka reports exceptions. */
static PyObject *format_exc(PyObject *exc)
{
    const char *tn = Py_TYPE(exc)->tp_name;
    const char *dot = strrchr(tn, '.');
    return PyUnicode_FromFormat("%s: %S", dot ? dot + 1 : tn, exc);
}

static PyObject *get_varnames(evalctx *e)
{
    if (!e->varnames) {
        PyCodeObject *co = (PyCodeObject *)e->env->code;
#if PY_VERSION_HEX >= 0x030B0000
        e->varnames = PyCode_GetVarnames(co);
#else
        e->varnames = new_ref(co->co_varnames);
#endif
    }
    return e->varnames;
}

static PyObject *keyword_value(evalctx *e, const char *name, size_t len)
{
    const peeka_cond_env *env = e->env;
    Py_ssize_t n = env->kwnames ? PyTuple_GET_SIZE(env->kwnames) : 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (utf8_equal(PyTuple_GET_ITEM(env->kwnames, i), name, len))
            return env->args[env->nargs + i];
    return NULL;
}

/* The keyword arguments that no named parameter took: what **kw holds. */
static PyObject *extra_kwargs(evalctx *e, PyObject *vn, int first, int end)
{
    const peeka_cond_env *env = e->env;
    PyObject *d = PyDict_New();
    Py_ssize_t n = env->kwnames ? PyTuple_GET_SIZE(env->kwnames) : 0;
    for (Py_ssize_t i = 0; d && i < n; i++) {
        PyObject *k = PyTuple_GET_ITEM(env->kwnames, i);
        int named = 0;
        for (int j = first; j < end && !named; j++) {
            int r = PyUnicode_Compare(k, PyTuple_GET_ITEM(vn, j));
            if (r == -1 && PyErr_Occurred())
                PyErr_Clear();
            named = r == 0;
        }
        if (!named && PyDict_SetItem(d, k, env->args[env->nargs + i]) < 0)
            Py_CLEAR(d);
    }
    return d;
}

/* A parameter of the observed function, by name: the argument the call
 * passed for it (defaults are not applied). */
static PyObject *param_value(evalctx *e, const char *name, size_t len)
{
    const peeka_cond_env *env = e->env;
    if (!env->code || !PyCode_Check(env->code))
        return PyErr_Format(PyExc_NameError, "name '%s' is not defined", name);
    PyCodeObject *co = (PyCodeObject *)env->code;
    PyObject *vn = get_varnames(e);
    if (!vn)
        return NULL;
    int named = co->co_argcount + co->co_kwonlyargcount;
    int star = (co->co_flags & CO_VARARGS) != 0;
    int dstar = (co->co_flags & CO_VARKEYWORDS) != 0;
    int total = named + star + dstar;
    if (total > PyTuple_GET_SIZE(vn))
        total = (int)PyTuple_GET_SIZE(vn);
    for (int i = 0; i < total; i++) {
        if (!utf8_equal(PyTuple_GET_ITEM(vn, i), name, len))
            continue;
        if (i < named) {
            if (i < co->co_argcount && i < env->nargs)
                return new_ref(env->args[i]);
            PyObject *v = i >= co->co_posonlyargcount ? keyword_value(e, name, len) : NULL;
            if (v)
                return new_ref(v);
            return PyErr_Format(PyExc_NameError, "parameter '%s' was not passed", name);
        }
        if (star && i == named) {
            Py_ssize_t lo = co->co_argcount, hi = env->nargs;
            PyObject *t = PyTuple_New(hi > lo ? hi - lo : 0);
            for (Py_ssize_t k = lo; t && k < hi; k++)
                PyTuple_SET_ITEM(t, k - lo, new_ref(env->args[k]));
            return t;
        }
        return extra_kwargs(e, vn, co->co_posonlyargcount, named);
    }
    return PyErr_Format(PyExc_NameError, "name '%s' is not defined", name);
}

static PyObject *eval_name(evalctx *e, const cond_node *nd)
{
    const peeka_cond_env *env = e->env;
    switch (nd->op) {
    case NM_PARAMS:
        return get_params(e);
    case NM_KWARGS:
        return get_kwargs(e);
    case NM_TARGET:
        return new_ref(env->has_self && env->nargs > 0 ? env->args[0] : Py_None);
    case NM_RETURN:
        return new_ref(env->ret ? env->ret : Py_None);
    case NM_THROW:
        return env->exc ? format_exc(env->exc) : new_ref(Py_None);
    case NM_COST:
        if (env->cost_ms < 0)
            return PyErr_Format(PyExc_NameError, "cost is not known at function entry");
        return PyFloat_FromDouble(env->cost_ms);
    }
    return param_value(e, pool_str(e, nd), nd->v.s.len);
}

/* ---- operators ---- */

static int check_repeat(evalctx *e, PyObject *a, PyObject *b)
{
    PyObject *seq = a, *num = b;
    Py_ssize_t len = builtin_len(a);
    if (len < 0) {
        seq = b;
        num = a;
        len = builtin_len(b);
    }
    if (len <= 0 || !PyLong_Check(num))
        return 0;
    (void)seq;
    int overflow;
    long long n = PyLong_AsLongLongAndOverflow(num, &overflow);
    if (n == -1 && PyErr_Occurred())
        return -1;
    if (overflow < 0 || n <= 0)
        return 0;
    if (overflow > 0 || n > COND_MAX_ELEMS)
        return charge_elems(e, COND_MAX_ELEMS + (Py_ssize_t)1);
    return charge_elems(e, len * (Py_ssize_t)n);
}

static int check_concat(evalctx *e, PyObject *a, PyObject *b)
{
    Py_ssize_t la = builtin_len(a), lb = builtin_len(b);
    if (la < 0 || lb < 0)
        return 0;
    return charge_elems(e, la + lb);
}

static int check_int_product(PyObject *a, PyObject *b)
{
    if (!PyLong_Check(a) || !PyLong_Check(b))
        return 0;
    long ba = long_bits(a), bb;
    if (ba < 0 || (bb = long_bits(b)) < 0)
        return -1;
    if (ba + bb > COND_MAX_BITS + 1) {
        PyErr_Format(PyExc_OverflowError, "integer result larger than %d bits", COND_MAX_BITS);
        return -1;
    }
    return 0;
}

static int check_pow(PyObject *base, PyObject *ex)
{
    if (!PyLong_Check(base) || !PyLong_Check(ex))
        return 0;
    int overflow;
    long long n = PyLong_AsLongLongAndOverflow(ex, &overflow);
    if (n == -1 && PyErr_Occurred())
        return -1;
    if (overflow < 0 || (!overflow && n <= 1))
        return 0;   /* a negative exponent makes a float */
    long bits = long_bits(base);
    if (bits < 0)
        return -1;
    if (bits <= 1)
        return 0;   /* 0, 1 and -1 stay small whatever the exponent */
    /* base**n has between (bits-1)*n+1 and bits*n bits: bound the lower
     * end, so 2**65536 passes and nothing past twice the limit does. */
    if (overflow || n > COND_MAX_BITS / (bits - 1)) {
        PyErr_Format(PyExc_OverflowError, "integer result larger than %d bits", COND_MAX_BITS);
        return -1;
    }
    return 0;
}

static PyObject *binop(evalctx *e, PyObject *a, PyObject *b, int op)
{
    switch (op) {
    case CA_ADD:
        return check_concat(e, a, b) < 0 ? NULL : PyNumber_Add(a, b);
    case CA_SUB:
        return PyNumber_Subtract(a, b);
    case CA_MUL:
        if (check_repeat(e, a, b) < 0 || check_int_product(a, b) < 0)
            return NULL;
        return PyNumber_Multiply(a, b);
    case CA_DIV:
        return PyNumber_TrueDivide(a, b);
    case CA_FLOORDIV:
        return PyNumber_FloorDivide(a, b);
    case CA_MOD:
        /* '%0999999999d' % 1 would build a gigabyte. */
        if (PyUnicode_Check(a) || PyBytes_Check(a) || PyByteArray_Check(a))
            return PyErr_Format(PyExc_TypeError, "string formatting with %% is not supported");
        return PyNumber_Remainder(a, b);
    case CA_POW:
        return check_pow(a, b) < 0 ? NULL : PyNumber_Power(a, b, Py_None);
    }
    return PyErr_Format(PyExc_SystemError, "bad arithmetic operator %d", op);
}

static PyObject *eval_arith(evalctx *e, const cond_node *nd)
{
    const cond_node *nodes = e->c->nodes;
    PyObject *acc = eval(e, nd->a);
    for (int i = nodes[nd->a].next; acc && i >= 0; i = nodes[i].next) {
        PyObject *rhs = eval(e, i);
        PyObject *r = rhs ? binop(e, acc, rhs, nodes[i].cop) : NULL;
        Py_XDECREF(rhs);
        Py_DECREF(acc);
        acc = r;
    }
    return acc;
}

static PyObject *eval_unary(evalctx *e, const cond_node *nd)
{
    PyObject *v = eval(e, nd->a), *r = NULL;
    if (!v)
        return NULL;
    switch (nd->op) {
    case CU_NEG: r = PyNumber_Negative(v); break;
    case CU_POS: r = PyNumber_Positive(v); break;
    case CU_INVERT: r = PyNumber_Invert(v); break;
    }
    Py_DECREF(v);
    return r;
}

static PyObject *eval_not(evalctx *e, const cond_node *nd)
{
    PyObject *v = eval(e, nd->a);
    if (!v)
        return NULL;
    int t = PyObject_IsTrue(v);
    Py_DECREF(v);
    return t < 0 ? NULL : new_ref(t ? Py_False : Py_True);
}

/* and / or: yields the deciding operand, as Python does. */
static PyObject *eval_bool(evalctx *e, const cond_node *nd)
{
    const cond_node *nodes = e->c->nodes;
    for (int i = nd->a;; i = nodes[i].next) {
        PyObject *v = eval(e, i);
        if (!v || nodes[i].next < 0)
            return v;
        int t = PyObject_IsTrue(v);
        if (t < 0) {
            Py_DECREF(v);
            return NULL;
        }
        if (nd->op == CB_AND ? !t : t)
            return v;
        Py_DECREF(v);
    }
}

/* `in` only asks containers that answer without iterating: iterating an
 * arbitrary object could consume the caller's generator or never end. */
static int contains(evalctx *e, PyObject *container, PyObject *item)
{
    PySequenceMethods *sq = Py_TYPE(container)->tp_as_sequence;
    if (PyDictValues_Check(container)) {
        /* Iterated, but it is the dict's own bounded, side-effect-free loop. */
        Py_ssize_t n = PyObject_Size(container);
        if (n < 0 || charge_steps(e, n) < 0)
            return -1;
    } else if (!sq || !sq->sq_contains) {
        PyErr_Format(PyExc_TypeError, "'in' needs a container; '%.100s' has no __contains__",
                     Py_TYPE(container)->tp_name);
        return -1;
    }
    return PySequence_Contains(container, item);
}

static PyObject *compare(evalctx *e, PyObject *a, PyObject *b, int op)
{
    int r;
    switch (op) {
    case CMP_LT: return PyObject_RichCompare(a, b, Py_LT);
    case CMP_LE: return PyObject_RichCompare(a, b, Py_LE);
    case CMP_EQ: return PyObject_RichCompare(a, b, Py_EQ);
    case CMP_NE: return PyObject_RichCompare(a, b, Py_NE);
    case CMP_GT: return PyObject_RichCompare(a, b, Py_GT);
    case CMP_GE: return PyObject_RichCompare(a, b, Py_GE);
    case CMP_IS: return new_ref(a == b ? Py_True : Py_False);
    case CMP_IS_NOT: return new_ref(a != b ? Py_True : Py_False);
    case CMP_IN: case CMP_NOT_IN:
        r = contains(e, b, a);
        if (r < 0)
            return NULL;
        return new_ref((r == (op == CMP_IN)) ? Py_True : Py_False);
    }
    return PyErr_Format(PyExc_SystemError, "bad comparison operator %d", op);
}

/* a < b < c is (a < b) and (b < c), with b evaluated once. */
static PyObject *eval_compare(evalctx *e, const cond_node *nd)
{
    const cond_node *nodes = e->c->nodes;
    PyObject *left = eval(e, nd->a);
    for (int i = nodes[nd->a].next; left; i = nodes[i].next) {
        PyObject *right = eval(e, i);
        PyObject *r = right ? compare(e, left, right, nodes[i].cop) : NULL;
        Py_DECREF(left);
        if (!r || nodes[i].next < 0) {
            Py_XDECREF(right);
            return r;
        }
        int t = PyObject_IsTrue(r);
        if (t <= 0) {
            Py_DECREF(right);
            if (t < 0)
                Py_CLEAR(r);
            return r;
        }
        Py_DECREF(r);
        left = right;
    }
    return NULL;
}

static PyObject *eval_ifexp(evalctx *e, const cond_node *nd)
{
    PyObject *test = eval(e, nd->b);
    if (!test)
        return NULL;
    int t = PyObject_IsTrue(test);
    Py_DECREF(test);
    return t < 0 ? NULL : eval(e, t ? nd->a : nd->c);
}

/* ---- containers ---- */

static int count_list(evalctx *e, int i)
{
    int n = 0;
    for (; i >= 0; i = e->c->nodes[i].next)
        n++;
    return n;
}

static PyObject *eval_seq(evalctx *e, const cond_node *nd)
{
    int n = count_list(e, nd->a), k = 0;
    PyObject *seq = nd->kind == CN_LIST ? PyList_New(n) : PyTuple_New(n);
    for (int i = nd->a; seq && i >= 0; i = e->c->nodes[i].next, k++) {
        PyObject *v = eval(e, i);
        if (!v)
            Py_CLEAR(seq);
        else if (nd->kind == CN_LIST)
            PyList_SET_ITEM(seq, k, v);
        else
            PyTuple_SET_ITEM(seq, k, v);
    }
    return seq;
}

static PyObject *eval_dict(evalctx *e, const cond_node *nd)
{
    PyObject *d = PyDict_New();
    for (int i = nd->a; d && i >= 0; i = e->c->nodes[e->c->nodes[i].next].next) {
        PyObject *k = eval(e, i);
        PyObject *v = k ? eval(e, e->c->nodes[i].next) : NULL;
        if (!v || PyDict_SetItem(d, k, v) < 0)
            Py_CLEAR(d);
        Py_XDECREF(k);
        Py_XDECREF(v);
    }
    return d;
}

static PyObject *eval_or_none(evalctx *e, int idx)
{
    return idx < 0 ? new_ref(Py_None) : eval(e, idx);
}

static PyObject *eval_subscript(evalctx *e, const cond_node *nd)
{
    const cond_node *key = &e->c->nodes[nd->b];
    PyObject *obj = eval(e, nd->a), *k = NULL, *r = NULL;
    if (!obj)
        return NULL;
    if (key->kind == CN_SLICE) {
        PyObject *lo = eval_or_none(e, key->a);
        PyObject *hi = lo ? eval_or_none(e, key->b) : NULL;
        PyObject *st = hi ? eval_or_none(e, key->c) : NULL;
        if (st)
            k = PySlice_New(lo, hi, st);
        Py_XDECREF(lo);
        Py_XDECREF(hi);
        Py_XDECREF(st);
    } else {
        k = eval(e, nd->b);
    }
    if (k)
        r = PyObject_GetItem(obj, k);
    Py_XDECREF(k);
    Py_DECREF(obj);
    return r;
}

static PyObject *eval_attr(evalctx *e, const cond_node *nd)
{
    PyObject *obj = eval(e, nd->a);
    if (!obj)
        return NULL;
    PyObject *name = PyUnicode_FromStringAndSize(pool_str(e, nd), nd->v.s.len);
    PyObject *r = name ? PyObject_GetAttr(obj, name) : NULL;
    Py_XDECREF(name);
    Py_DECREF(obj);
    return r;
}

/* Evaluates the argument list starting at node i; `lead`, when given,
 * becomes the first item (the receiver of a method). */
static PyObject *eval_args(evalctx *e, int i, PyObject *lead)
{
    int n = count_list(e, i) + (lead ? 1 : 0), k = 0;
    PyObject *t = PyTuple_New(n);
    if (t && lead)
        PyTuple_SET_ITEM(t, k++, new_ref(lead));
    for (; t && i >= 0; i = e->c->nodes[i].next, k++) {
        PyObject *v = eval(e, i);
        if (!v)
            Py_CLEAR(t);
        else
            PyTuple_SET_ITEM(t, k, v);
    }
    return t;
}

/* ---- builtin functions ---- */

/* The items of a builtin container, iterated without user code; the
 * elements count against the step budget. */
static PyObject *builtin_items(evalctx *e, PyObject *o)
{
    if (!(PyList_Check(o) || PyTuple_Check(o) || PyDict_CheckExact(o) ||
          PyAnySet_CheckExact(o) || PyUnicode_CheckExact(o) || PyBytes_CheckExact(o) ||
          PyDictKeys_Check(o) || PyDictValues_Check(o) || PyDictItems_Check(o) ||
          PyRange_Check(o)))
        return PyErr_Format(PyExc_TypeError, "min()/max() take a list, tuple, dict, set or str, not '%.100s'",
                            Py_TYPE(o)->tp_name);
    Py_ssize_t n = builtin_len(o);     /* a list subclass's __len__ may lie */
    if (n < 0)
        n = PyObject_Size(o);
    if (n < 0 || charge_steps(e, n) < 0)
        return NULL;
    /* A subclass's own __iter__ must not run: copy the items directly. */
    if (PyList_Check(o) && !PyList_CheckExact(o))
        return PyList_GetSlice(o, 0, n);
    if (PyTuple_Check(o) && !PyTuple_CheckExact(o))
        return PyTuple_GetSlice(o, 0, n);
    return PySequence_Fast(o, "not iterable");
}

static PyObject *min_max(evalctx *e, PyObject *args, int want_max)
{
    PyObject *items = args, *owned = NULL;
    const char *fn = want_max ? "max" : "min";
    if (PyTuple_GET_SIZE(args) == 0)
        return PyErr_Format(PyExc_TypeError, "%s expected at least 1 argument, got 0", fn);
    if (PyTuple_GET_SIZE(args) == 1) {
        items = owned = builtin_items(e, PyTuple_GET_ITEM(args, 0));
        if (!items)
            return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(items);
    PyObject **v = PySequence_Fast_ITEMS(items), *best = NULL;
    if (n == 0)
        PyErr_Format(PyExc_ValueError, "%s() arg is an empty sequence", fn);
    for (Py_ssize_t i = 0; i < n; i++) {
        int better = best ? PyObject_RichCompareBool(v[i], best, want_max ? Py_GT : Py_LT) : 1;
        if (better < 0) {
            best = NULL;
            break;
        }
        if (better)
            best = v[i];
    }
    Py_XINCREF(best);
    Py_XDECREF(owned);
    return best;
}

static PyObject *to_str(PyObject *args)
{
    if (PyTuple_GET_SIZE(args) == 1 && PyLong_Check(PyTuple_GET_ITEM(args, 0))) {
        long bits = long_bits(PyTuple_GET_ITEM(args, 0));
        if (bits < 0)
            return NULL;
        if (bits > COND_MAX_BITS)
            return PyErr_Format(PyExc_ValueError, "str() of an integer larger than %d bits", COND_MAX_BITS);
    }
    return PyObject_Call((PyObject *)&PyUnicode_Type, args, NULL);
}

static PyObject *to_int(PyObject *args)
{
    /* Parsing decimal text is quadratic before 3.12's limit existed. */
    if (PyTuple_GET_SIZE(args) >= 1) {
        PyObject *a = PyTuple_GET_ITEM(args, 0);
        Py_ssize_t n = PyUnicode_Check(a) || PyBytes_Check(a) || PyByteArray_Check(a) ? builtin_len(a) : 0;
        if (n > COND_MAX_INT_STR)
            return PyErr_Format(PyExc_ValueError, "int() of a string longer than %d characters",
                                COND_MAX_INT_STR);
    }
    return PyObject_Call((PyObject *)&PyLong_Type, args, NULL);
}

static PyObject *one_arg(PyObject *args, const char *fn)
{
    if (PyTuple_GET_SIZE(args) != 1)
        return PyErr_Format(PyExc_TypeError, "%s() takes exactly one argument (%zd given)",
                            fn, PyTuple_GET_SIZE(args));
    return PyTuple_GET_ITEM(args, 0);
}

static PyObject *call_builtin(evalctx *e, int f, PyObject *args)
{
    PyObject *a;
    Py_ssize_t n;
    int t;
    switch (f) {
    case CF_LEN:
        if (!(a = one_arg(args, "len")) || (n = PyObject_Size(a)) < 0)
            return NULL;
        return PyLong_FromSsize_t(n);
    case CF_STR:
        return to_str(args);
    case CF_INT:
        return to_int(args);
    case CF_FLOAT:
        return PyObject_Call((PyObject *)&PyFloat_Type, args, NULL);
    case CF_BOOL:
        if (PyTuple_GET_SIZE(args) == 0)
            return new_ref(Py_False);
        if (!(a = one_arg(args, "bool")) || (t = PyObject_IsTrue(a)) < 0)
            return NULL;
        return new_ref(t ? Py_True : Py_False);
    case CF_ABS:
        return (a = one_arg(args, "abs")) ? PyNumber_Absolute(a) : NULL;
    case CF_MIN: case CF_MAX:
        return min_max(e, args, f == CF_MAX);
    }
    return PyErr_Format(PyExc_SystemError, "bad builtin %d", f);
}

static PyObject *eval_call(evalctx *e, const cond_node *nd)
{
    PyObject *args = eval_args(e, nd->a, NULL);
    if (!args)
        return NULL;
    PyObject *r = call_builtin(e, nd->op, args);
    Py_DECREF(args);
    return r;
}

/* ---- whitelisted methods ---- */

enum { TY_STR = 1, TY_BYTES = 2, TY_DICT = 4, TY_LIST = 8, TY_TUPLE = 16 };

static const unsigned char method_types[] = {
    [CM_STARTSWITH] = TY_STR | TY_BYTES, [CM_ENDSWITH] = TY_STR | TY_BYTES,
    [CM_LOWER] = TY_STR | TY_BYTES, [CM_UPPER] = TY_STR | TY_BYTES,
    [CM_STRIP] = TY_STR | TY_BYTES, [CM_LSTRIP] = TY_STR | TY_BYTES,
    [CM_RSTRIP] = TY_STR | TY_BYTES, [CM_SPLIT] = TY_STR | TY_BYTES,
    [CM_FIND] = TY_STR | TY_BYTES, [CM_COUNT] = TY_STR | TY_BYTES | TY_LIST | TY_TUPLE,
    [CM_REPLACE] = TY_STR | TY_BYTES, [CM_ISDIGIT] = TY_STR | TY_BYTES,
    [CM_ISALPHA] = TY_STR | TY_BYTES, [CM_GET] = TY_DICT, [CM_KEYS] = TY_DICT,
    [CM_VALUES] = TY_DICT, [CM_ITEMS] = TY_DICT, [CM_INDEX] = TY_LIST | TY_TUPLE,
};

/* The builtin type whose method runs: subclasses get the base type's own
 * code, never an override. */
static PyTypeObject *receiver_type(PyObject *o, int *ty)
{
    if (PyUnicode_Check(o)) { *ty = TY_STR; return &PyUnicode_Type; }
    if (PyBytes_Check(o)) { *ty = TY_BYTES; return &PyBytes_Type; }
    if (PyDict_Check(o)) { *ty = TY_DICT; return &PyDict_Type; }
    if (PyList_Check(o)) { *ty = TY_LIST; return &PyList_Type; }
    if (PyTuple_Check(o)) { *ty = TY_TUPLE; return &PyTuple_Type; }
    *ty = 0;
    return NULL;
}

/* replace() can multiply its input's size; bound the result first. */
static int check_replace(evalctx *e, PyObject *args)
{
    if (PyTuple_GET_SIZE(args) < 3)
        return 0;
    Py_ssize_t ls = builtin_len(PyTuple_GET_ITEM(args, 0));
    Py_ssize_t lo = builtin_len(PyTuple_GET_ITEM(args, 1));
    Py_ssize_t ln = builtin_len(PyTuple_GET_ITEM(args, 2));
    if (ls < 0 || lo < 0 || ln < 0 || ln <= lo)
        return 0;
    Py_ssize_t hits = lo ? ls / lo : ls + 1;
    if (PyTuple_GET_SIZE(args) >= 4 && PyLong_Check(PyTuple_GET_ITEM(args, 3))) {
        Py_ssize_t maxc = PyLong_AsSsize_t(PyTuple_GET_ITEM(args, 3));
        if (maxc == -1 && PyErr_Occurred())
            PyErr_Clear();
        else if (maxc >= 0 && maxc < hits)
            hits = maxc;
    }
    if (hits > COND_MAX_ELEMS || ln - lo > COND_MAX_ELEMS)
        return charge_elems(e, COND_MAX_ELEMS + (Py_ssize_t)1);
    return charge_elems(e, ls + hits * (ln - lo));
}

static PyObject *eval_method(evalctx *e, const cond_node *nd)
{
    const char *name = cond_method_names[nd->op];
    PyObject *obj = eval(e, nd->a);
    if (!obj)
        return NULL;
    int ty;
    PyTypeObject *type = receiver_type(obj, &ty);
    PyObject *r = NULL;
    if (!type || !(method_types[nd->op] & ty)) {
        PyErr_Format(PyExc_TypeError, "method '%s' is not allowed on '%.100s'", name,
                     Py_TYPE(obj)->tp_name);
        Py_DECREF(obj);
        return NULL;
    }
    PyObject *args = eval_args(e, nd->b, obj);
    Py_DECREF(obj);
    if (!args)
        return NULL;
    if (nd->op != CM_REPLACE || check_replace(e, args) == 0) {
        PyObject *descr = PyObject_GetAttrString((PyObject *)type, name);
        if (descr) {
            r = PyObject_Call(descr, args, NULL);
            Py_DECREF(descr);
        }
    }
    Py_DECREF(args);
    return r;
}

/* ---- dispatch ---- */

static PyObject *eval_const(evalctx *e, const cond_node *nd)
{
    switch (nd->kind) {
    case CN_INT:
        return PyLong_FromLongLong(nd->v.i);
    case CN_BIGINT:
        return PyLong_FromString(pool_str(e, nd), NULL, 0);
    case CN_FLOAT:
        return PyFloat_FromDouble(nd->v.f);
    case CN_STR:
        return PyUnicode_DecodeUTF8(pool_str(e, nd), nd->v.s.len, "surrogatepass");
    case CN_BYTES:
        return PyBytes_FromStringAndSize(pool_str(e, nd), nd->v.s.len);
    }
    return new_ref(nd->op == CC_TRUE ? Py_True : nd->op == CC_FALSE ? Py_False : Py_None);
}

static PyObject *eval(evalctx *e, int idx)
{
    if (idx < 0 || idx >= e->c->nnodes)
        return PyErr_Format(PyExc_SystemError, "bad condition node %d", idx);
    if (charge_steps(e, 1) < 0)
        return NULL;
    const cond_node *nd = &e->c->nodes[idx];
    switch (nd->kind) {
    case CN_INT: case CN_BIGINT: case CN_FLOAT: case CN_STR: case CN_BYTES: case CN_CONST:
        return eval_const(e, nd);
    case CN_NAME: return eval_name(e, nd);
    case CN_TUPLE: case CN_LIST: return eval_seq(e, nd);
    case CN_DICT: return eval_dict(e, nd);
    case CN_UNARY: return eval_unary(e, nd);
    case CN_ARITH: return eval_arith(e, nd);
    case CN_BOOL: return eval_bool(e, nd);
    case CN_NOT: return eval_not(e, nd);
    case CN_COMPARE: return eval_compare(e, nd);
    case CN_IFEXP: return eval_ifexp(e, nd);
    case CN_SUBSCRIPT: return eval_subscript(e, nd);
    case CN_ATTR: return eval_attr(e, nd);
    case CN_CALL: return eval_call(e, nd);
    case CN_METHOD: return eval_method(e, nd);
    }
    return PyErr_Format(PyExc_SystemError, "bad condition node kind %d", nd->kind);
}

/* ---- entry ---- */

/* Writes "Type: message" for the pending exception into err, then clears it. */
static void describe_error(char *err, size_t errlen)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *exc = PyErr_GetRaisedException();
#else
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    PyObject *exc = value;
    Py_XDECREF(type);
    Py_XDECREF(tb);
#endif
    if (err && errlen) {
        PyObject *msg = exc ? format_exc(exc) : NULL;
        const char *u = msg ? PyUnicode_AsUTF8(msg) : NULL;
        if (u)
            snprintf(err, errlen, "%s", u);
        else if (exc)
            snprintf(err, errlen, "%.200s", Py_TYPE(exc)->tp_name);
        else
            snprintf(err, errlen, "unknown error");
        Py_XDECREF(msg);
        PyErr_Clear();
    }
    Py_XDECREF(exc);
}

/* Evaluates c; with `truth` the result is Py_True or Py_False (or NULL on
 * an error), else the value itself.  Leaves the caller's exception as it
 * found it. */
static PyObject *evaluate(const peeka_cond *c, const peeka_cond_env *env, int truth,
                          char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = 0;
    if (!c || !env) {
        if (err && errlen)
            snprintf(err, errlen, "no condition or environment");
        return NULL;
    }
    /* The hook may run while the observed call's exception is pending. */
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *saved = PyErr_GetRaisedException();
#else
    PyObject *st, *sv, *stb;
    PyErr_Fetch(&st, &sv, &stb);
#endif
    evalctx e = { .c = c, .env = env, .elems = COND_MAX_ELEMS };
    PyObject *v = eval(&e, c->root);
    if (v && truth) {
        int t = PyObject_IsTrue(v);
        Py_DECREF(v);
        v = t < 0 ? NULL : t ? Py_True : Py_False;
        Py_XINCREF(v);
    }
    if (!v)
        describe_error(err, errlen);
    Py_XDECREF(e.params);
    Py_XDECREF(e.kwargs);
    Py_XDECREF(e.varnames);
    /* Destructors above may have raised (a user __del__ reports, not raises,
     * but be sure). */
    if (PyErr_Occurred())
        PyErr_Clear();
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(saved);
#else
    PyErr_Restore(st, sv, stb);
#endif
    return v;
}

int peeka_cond_eval_msg(const peeka_cond *c, const peeka_cond_env *env,
                        char *err, size_t errlen)
{
    PyObject *v = evaluate(c, env, 1, err, errlen);
    if (!v)
        return -1;
    int rc = v == Py_True;
    Py_DECREF(v);
    return rc;
}

PyObject *peeka_cond_value(const peeka_cond *c, const peeka_cond_env *env, char *err, size_t errlen)
{
    return evaluate(c, env, 0, err, errlen);
}

int peeka_cond_eval(const peeka_cond *c, const peeka_cond_env *env)
{
    return peeka_cond_eval_msg(c, env, NULL, 0);
}
