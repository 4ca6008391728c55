/* A glob that matched nothing in a module it found: what it was matched
 * against and patterns that would match what that module shows.  A `*`
 * stands for one name, so `pkg.*` is the functions defined in pkg itself,
 * never those it re-exports from its submodules (they are defined there)
 * nor the methods of its classes: a user of Flask typing `flask.*` needs to
 * hear that, with `flask.*.*` and `flask.app.Flask.*` as ways out.  Read
 * from dicts and C fields only: no application code runs. */
#include "suggest.h"
#include "retype.h"

#define MAX_SUGGEST 5

static int add(PyObject *out, PyObject *s)
{
    if (!s)
        return -1;
    int dup = PySequence_Contains(out, s);
    int rc = dup == 0 ? PyList_Append(out, s) : dup < 0 ? -1 : 0;
    Py_DECREF(s);
    return rc;
}

/* The module a function or class says it was defined in (borrowed). */
static PyObject *defining_module(PyObject *v)
{
    PyObject *m = NULL;
    if (is_function(v))
        m = ((PyFunctionObject *)v)->func_module;
    else if (PyType_Check(v) && ((PyTypeObject *)v)->tp_dict)
        m = PyDict_GetItemString(((PyTypeObject *)v)->tp_dict, "__module__");
    return m && PyUnicode_Check(m) ? m : NULL;
}

static PyObject *qualname(PyObject *v)
{
    PyObject *q = NULL;
    if (is_function(v))
        q = ((PyFunctionObject *)v)->func_qualname;
    else if (((PyTypeObject *)v)->tp_flags & Py_TPFLAGS_HEAPTYPE)
        q = ((PyHeapTypeObject *)v)->ht_qualname;
    else
        return PyUnicode_FromString(((PyTypeObject *)v)->tp_name);
    Py_INCREF(q);
    return q;
}

static int has_submodule(PyObject *modname)
{
    PyObject *modules = PySys_GetObject("modules"), *k, *v;
    Py_ssize_t pos = 0, n = PyUnicode_GetLength(modname);
    while (modules && PyDict_Check(modules) && PyDict_Next(modules, &pos, &k, &v))
        if (PyUnicode_Check(k) && PyUnicode_GetLength(k) > n + 1 &&
            PyUnicode_Tailmatch(k, modname, 0, n, -1) == 1 && PyUnicode_ReadChar(k, n) == '.')
            return 1;
    return 0;
}

/* The functions and classes the module's public names stand for. */
static int add_names(PyObject *out, PyObject *m, PyObject *modname)
{
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyList_GET_SIZE(out) < MAX_SUGGEST && PyDict_Next(PyModule_GetDict(m), &pos, &k, &v)) {
        if (!PyUnicode_Check(k) || PyUnicode_ReadChar(k, 0) == '_')
            continue;
        PyObject *home = defining_module(v);
        if (!home)
            continue;
        int here = PyUnicode_Compare(home, modname) == 0;
        if (here && !PyType_Check(v))
            continue;   /* a function defined here would have matched */
        PyObject *q = qualname(v);
        if (!q)
            return -1;
        PyObject *s = PyType_Check(v) ? PyUnicode_FromFormat("%U.%U.*", home, q)
                                      : PyUnicode_FromFormat("%U.%U", home, q);
        Py_DECREF(q);
        if (add(out, s) < 0)
            return -1;
    }
    return 0;
}

PyObject *suggest_patterns(PyObject *m, PyObject *modname)
{
    PyObject *out = PyList_New(0);
    if (!out)
        return NULL;
    if ((has_submodule(modname) && add(out, PyUnicode_FromFormat("%U.*.*", modname)) < 0) ||
        add_names(out, m, modname) < 0) {
        Py_DECREF(out);
        return NULL;
    }
    return out;
}
