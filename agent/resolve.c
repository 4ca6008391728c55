/* From a probe's pattern (`app.views.checkout`, `app.*.handle_*`,
 * `app.cart.Cart.total`) to the function objects to hook.
 *
 * The module part is the longest imported prefix.  A pattern whose module is
 * not imported yet stays pending and is resolved when the module is imported
 * (see pending.c); a name that cannot exist (no such top-level module, no
 * such attribute in an imported module) is an error before anything is
 * installed. */
#include "retype.h"
#include "suggest.h"
#include "hooks.h"
#include "observe.h"
#include "wrapper.h"
#include "pattern.h"
#include "session.h"

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    char *segs[PEEKA_PATTERN_PARTS];
    int n;
    char buf[PEEKA_PATTERN_MAX];
} pattern;

static int has_glob(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

static int split(pattern *pt, const char *src, char *err, size_t errlen)
{
    pt->n = peeka_pattern_split(src, pt->buf, pt->segs, err, errlen);
    return pt->n < 0 ? -1 : 0;
}

static void join(char *out, size_t outlen, char *const *segs, int n)
{
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        if (i) strncat(out, ".", outlen - strlen(out) - 1);
        strncat(out, segs[i], outlen - strlen(out) - 1);
    }
}

typedef struct {
    probe *p;
    int hooked;
    int glob;          /* the pattern has wildcards: missing names are no error */
    char *err;
    size_t errlen;
} ctx;

/* A Python function, or the one behind our wrapper (a second probe on a
 * function we already replaced somewhere). */
static PyObject *plain_function(PyObject *f)
{
    PyObject *inner = f ? wrapper_unwrap(f) : NULL;
    if (inner)
        return inner;
    return f && is_function(f) ? f : NULL;
}

/* The Python functions behind a class or module attribute (borrowed): one,
 * or a property's getter, setter and deleter.  Returns how many. */
static int functions_of(PyObject *v, int in_class, PyObject *out[3], int *has_self)
{
    *has_self = in_class;
    if ((out[0] = wrapper_unwrap(v)))
        return 1;
    if (PyObject_TypeCheck(v, &PyStaticMethod_Type) || PyObject_TypeCheck(v, &PyClassMethod_Type)) {
        *has_self = PyObject_TypeCheck(v, &PyClassMethod_Type);
        PyObject *f = PyObject_GetAttrString(v, "__func__");
        Py_XDECREF(f);   /* kept alive by the descriptor */
        PyErr_Clear();
        return (out[0] = plain_function(f)) != NULL;
    }
    if (PyObject_TypeCheck(v, &PyProperty_Type)) {
        static const char *const parts[] = {"fget", "fset", "fdel"};
        int n = 0;
        for (int i = 0; i < 3; i++) {
            PyObject *f = PyObject_GetAttrString(v, parts[i]);
            Py_XDECREF(f);   /* kept alive by the property */
            PyErr_Clear();
            if ((out[n] = plain_function(f)))
                n++;
        }
        return n;
    }
    /* Decorators that return a C object (functools.lru_cache, ...) keep the
     * Python function in __wrapped__: hook that one. */
    for (int i = 0; i < 8 && v && !is_function(v); i++) {
        PyObject *w = PyObject_GetAttrString(v, "__wrapped__");
        Py_XDECREF(w);
        PyErr_Clear();
        v = w;
    }
    return (out[0] = plain_function(v)) != NULL;
}

static int defined_in(PyObject *v, PyObject *modname)
{
    PyObject *m = PyObject_GetAttrString(v, "__module__");
    int same = m && PyUnicode_Check(m) && PyUnicode_Compare(m, modname) == 0;
    Py_XDECREF(m);
    PyErr_Clear();
    return same;
}

/* "cannot hook X", with the reason hooks_install raised; cleared. */
static void hook_error(ctx *c, const char *label)
{
    kept_exc k;
    exc_keep(&k);
    PyObject *e = exc_value(&k);
    PyObject *s = e ? PyObject_Str(e) : NULL;
    const char *why = s ? PyUnicode_AsUTF8(s) : NULL;
    if (why && why[0])
        snprintf(c->err, c->errlen, "cannot hook %s: %s", label, why);
    else
        snprintf(c->err, c->errlen, "cannot hook %s", label);
    Py_XDECREF(s);
    exc_restore(&k);
    PyErr_Clear();
}

static int hook_value(ctx *c, PyObject *v, int in_class, PyObject *ns, PyObject *key, const char *label)
{
    int has_self;
    PyObject *fs[3];
    int n = functions_of(v, in_class, fs, &has_self);
    if (n == 0) {
        if (c->glob)
            return 0;
        snprintf(c->err, c->errlen, "%s is a %s, not a Python function: watch observes "
                 "functions and methods written in Python", label, Py_TYPE(v)->tp_name);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (hooks_install(c->p, fs[i], has_self, ns, key) < 0) {
            hook_error(c, label);
            return -1;
        }
    }
    c->hooked++;
    return 0;
}

static int resolve_in(ctx *c, PyObject *container, PyObject *modname, char *const *segs, int n,
                      const char *prefix);

/* Names in a module or class dict matching one glob segment. */
static int resolve_glob(ctx *c, PyObject *container, PyObject *modname, char *const *segs, int n,
                        const char *prefix)
{
    int is_class = PyType_Check(container);
    PyObject *d = is_class ? ((PyTypeObject *)container)->tp_dict : PyModule_GetDict(container);
    PyObject *items = PyDict_Items(d);
    if (!items) { PyErr_Clear(); return -1; }
    int rc = 0;
    for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(items); i++) {
        PyObject *k = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 0);
        PyObject *v = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 1);
        const char *name = PyUnicode_Check(k) ? PyUnicode_AsUTF8(k) : NULL;
        if (!name) { PyErr_Clear(); continue; }
        /* Like shell dotfiles: `*` skips private and dunder names. */
        if ((name[0] == '_' && segs[0][0] != '_') || fnmatch(segs[0], name, 0) != 0)
            continue;
        if (!is_class && !defined_in(v, modname))   /* imported names belong elsewhere */
            continue;
        char label[512];
        snprintf(label, sizeof label, "%s.%s", prefix, name);
        if (n > 1) {
            if (PyType_Check(v))
                rc = resolve_in(c, v, modname, segs + 1, n - 1, label);
        } else if (!PyType_Check(v)) {
            rc = hook_value(c, v, is_class, is_class ? container : d, k, label);
        }
    }
    Py_DECREF(items);
    return rc;
}

/* An exact name: module dict, or the class MRO (a method may be inherited). */
static PyObject *lookup(PyObject *container, PyObject *key, PyObject **owner)
{
    if (!PyType_Check(container)) {
        *owner = PyModule_GetDict(container);
        return PyDict_GetItemWithError(*owner, key);
    }
    PyObject *mro = ((PyTypeObject *)container)->tp_mro;
    for (Py_ssize_t i = 0; mro && i < PyTuple_GET_SIZE(mro); i++) {
        PyObject *cls = PyTuple_GET_ITEM(mro, i);
        PyObject *v = PyDict_GetItemWithError(((PyTypeObject *)cls)->tp_dict, key);
        if (v) { *owner = cls; return v; }
    }
    return NULL;
}

static int resolve_in(ctx *c, PyObject *container, PyObject *modname, char *const *segs, int n,
                      const char *prefix)
{
    if (has_glob(segs[0]))
        return resolve_glob(c, container, modname, segs, n, prefix);
    PyObject *key = PyUnicode_FromString(segs[0]);
    if (!key) { PyErr_Clear(); return -1; }
    PyObject *owner = NULL;
    PyObject *v = lookup(container, key, &owner);
    PyErr_Clear();
    char label[512];
    snprintf(label, sizeof label, "%s.%s", prefix, segs[0]);
    int rc = 0;
    if (!v) {
        if (!c->glob) {
            snprintf(c->err, c->errlen, "%s '%s' has no attribute '%s'",
                     PyType_Check(container) ? "class" : "module", prefix, segs[0]);
            rc = -1;
        }
    } else if (n > 1) {
        if (PyType_Check(v)) {
            rc = resolve_in(c, v, modname, segs + 1, n - 1, label);
        } else if (!c->glob) {
            snprintf(c->err, c->errlen, "%s is a %s, not a class", label, Py_TYPE(v)->tp_name);
            rc = -1;
        }
    } else if (PyType_Check(v)) {
        if (!c->glob) {
            snprintf(c->err, c->errlen, "%s is a class: name a method (%s.method or %s.*)",
                     label, label, label);
            rc = -1;
        }
    } else {
        rc = hook_value(c, v, PyType_Check(container), owner, key, label);
    }
    Py_DECREF(key);
    return rc;
}

/* Could `name` be imported later?  find_spec reads the file system but
 * imports nothing (the parent of a dotted name is already imported here). */
static int importable(const char *name)
{
    PyObject *util = PyImport_ImportModule("importlib.util");
    PyObject *spec = util ? PyObject_CallMethod(util, "find_spec", "s", name) : NULL;
    int ok = spec && spec != Py_None;
    Py_XDECREF(spec);
    Py_XDECREF(util);
    PyErr_Clear();
    return ok;
}

/* Modules in sys.modules whose dotted name matches segs[0..k). */
static PyObject *matching_modules(char *const *segs, int k)
{
    char modpat[1024];
    join(modpat, sizeof modpat, segs, k);
    PyObject *out = PyList_New(0);
    PyObject *modules = PySys_GetObject("modules");
    if (!out || !modules)
        return out;
    if (!has_glob(modpat)) {
        PyObject *m = PyDict_GetItemString(modules, modpat);
        if (m && PyModule_Check(m))
            PyList_Append(out, m);
        return out;
    }
    PyObject *keys = PyDict_Keys(modules);
    for (Py_ssize_t i = 0; keys && i < PyList_GET_SIZE(keys); i++) {
        PyObject *kname = PyList_GET_ITEM(keys, i);
        const char *s = PyUnicode_Check(kname) ? PyUnicode_AsUTF8(kname) : NULL;
        if (!s || fnmatch(modpat, s, FNM_PERIOD) != 0)
            continue;
        int dots = 0;
        for (const char *q = s; *q; q++) dots += *q == '.';
        PyObject *m = PyDict_GetItem(modules, kname);
        if (dots == k - 1 && m && PyModule_Check(m))
            PyList_Append(out, m);
    }
    Py_XDECREF(keys);
    PyErr_Clear();
    return out;
}

/* A module found in sys.modules while it is still being imported is
 * half-built: the names defined below the import that is running are missing.
 * Its probe waits like any pending one, and pending.c tells us the moment the
 * import is done (resolve_module_loaded, which names the module it reports so
 * that it counts as imported while importlib is still finishing it). */
static PyObject *just_loaded;   /* borrowed */

static int initializing(PyObject *m)
{
    PyObject *name = PyModule_GetNameObject(m);
    int done = name && just_loaded && PyUnicode_Compare(name, just_loaded) == 0;
    Py_XDECREF(name);
    PyErr_Clear();
    if (done)
        return 0;
    /* The module's dict, not getattr: a module __getattr__ is application code. */
    PyObject *spec = PyDict_GetItemString(PyModule_GetDict(m), "__spec__");
    PyObject *flag = spec && spec != Py_None ? PyObject_GetAttrString(spec, "_initializing") : NULL;
    int r = flag && PyObject_IsTrue(flag) == 1;
    Py_XDECREF(flag);
    PyErr_Clear();
    return r;
}

/* The first module a glob found and matched nothing in, kept for the
 * stats (suggest.h); a later import may still give it matches. */
static void note_searched(probe *p, PyObject *m)
{
    PyObject *name = PyModule_GetNameObject(m);
    if (name && (p->suggest = suggest_patterns(m, name)))
        p->searched = name;   /* the reference moves there */
    else
        Py_XDECREF(name);
    PyErr_Clear();
}

int resolve_probe(probe *p, char *err, size_t errlen)
{
    pattern pt;
    if (split(&pt, p->pattern, err, errlen) < 0)
        return -1;
    ctx c = {p, 0, has_glob(p->pattern), err, errlen};
    p->glob = c.glob;
    int found_module = 0;
    for (int k = pt.n - 1; k >= 1; k--) {
        PyObject *mods = matching_modules(pt.segs, k);
        if (!mods) { PyErr_Clear(); return -1; }
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(mods); i++) {
            PyObject *m = PyList_GET_ITEM(mods, i);
            if (initializing(m)) {
                pending_await_import(m);
                if (c.glob)
                    continue;
                Py_DECREF(mods);
                p->pending = 1;
                return 0;
            }
            PyObject *modname = PyModule_GetNameObject(m);
            if (!modname) { PyErr_Clear(); continue; }
            char prefix[512];
            snprintf(prefix, sizeof prefix, "%s", PyUnicode_AsUTF8(modname));
            found_module = 1;
            /* The next segment may name a submodule that is not imported yet. */
            char sub[1024];
            join(sub, sizeof sub, pt.segs, k + 1);
            int rc;
            if (!c.glob && k + 1 < pt.n && !PyObject_HasAttrString(m, pt.segs[k]) && importable(sub))
                rc = 1;   /* pending */
            else
                rc = resolve_in(&c, m, modname, pt.segs + k, pt.n - k, prefix);
            Py_DECREF(modname);
            if (rc < 0) { Py_DECREF(mods); return -1; }
            if (rc == 1) { Py_DECREF(mods); p->pending = 1; return 0; }
            if (c.glob && !c.hooked && !p->searched)
                note_searched(p, m);
        }
        Py_DECREF(mods);
        if (found_module && !c.glob)
            break;
    }
    if (c.hooked) {
        p->pending = c.glob;   /* a glob keeps matching modules imported later */
        return c.hooked;
    }
    if (!found_module && !c.glob && !p->lenient && !has_glob(pt.segs[0]) && !importable(pt.segs[0])) {
        snprintf(err, errlen, "no module named '%s' (pattern %s)", pt.segs[0], p->pattern);
        return -1;
    }
    if (found_module && !c.glob && !err[0])
        snprintf(err, errlen, "nothing matches %s", p->pattern);
    if (err[0])
        return -1;
    p->pending = 1;
    return 0;
}

/* A module finished importing: pending probes that may live in it get
 * another chance.  Errors now cannot be reported as install errors; the
 * probe just stays pending and the summary says so. */
void resolve_module_loaded(PyObject *modname)
{
    const char *name = PyUnicode_AsUTF8(modname);
    if (!name) { PyErr_Clear(); return; }
    size_t len = strlen(name);
    for (int i = 0; i < g_agent.nprobes; i++) {
        probe *p = g_agent.probes[i];
        if (!p->pending)
            continue;
        if (!p->glob && (strncmp(p->pattern, name, len) != 0 || p->pattern[len] != '.'))
            continue;
        char err[256] = "";
        just_loaded = modname;
        int n = resolve_probe(p, err, sizeof err);
        just_loaded = NULL;
        if (n < 0)
            PyErr_Clear();
    }
}
