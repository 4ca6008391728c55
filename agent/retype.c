/* What a program can notice while one of its functions is retyped:
 * `type(f) is types.FunctionType` is false (isinstance, inspect, repr and
 * `type(f).__name__` are as before).  pickle and copy dispatch on the exact
 * type, so while any function is retyped copyreg.dispatch_table maps our
 * type to what they do for functions (pickle by qualified name; copy and
 * deepcopy return the function itself); the entry goes with the last one. */
#include "retype.h"

#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000

static PyTypeObject observed_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "function",
};

static Py_ssize_t retyped;      /* functions carrying observed_type now */
static PyObject *reducer;       /* strong while registered */

/* copyreg: a reduce function returning a string makes pickle save the
 * object as a global of that name, and copy return it as is. */
static PyObject *reduce_observed(PyObject *self, PyObject *func)
{
    (void)self;
    return PyObject_GetAttrString(func, "__qualname__");
}

static PyMethodDef reduce_def = {"_peeka_reduce_function", reduce_observed, METH_O, NULL};

static int ready(void)
{
    if (observed_type.tp_flags & Py_TPFLAGS_READY)
        return 0;
    PyTypeObject *t = &observed_type, *f = &PyFunction_Type;
    t->tp_base = f;
    t->tp_basicsize = f->tp_basicsize;
    t->tp_flags = Py_TPFLAGS_DEFAULT | (f->tp_flags & (Py_TPFLAGS_HAVE_GC |
                  Py_TPFLAGS_HAVE_VECTORCALL | Py_TPFLAGS_METHOD_DESCRIPTOR));
    t->tp_dealloc = f->tp_dealloc;
    t->tp_vectorcall_offset = f->tp_vectorcall_offset;
    t->tp_repr = f->tp_repr;
    t->tp_call = f->tp_call;
    t->tp_traverse = f->tp_traverse;
    t->tp_clear = f->tp_clear;
    t->tp_weaklistoffset = f->tp_weaklistoffset;
    t->tp_descr_get = f->tp_descr_get;
    t->tp_dictoffset = f->tp_dictoffset;
    t->tp_free = f->tp_free;
    t->tp_doc = f->tp_doc;
    return PyType_Ready(t);
}

static PyObject *dispatch_table(void)
{
    PyObject *copyreg = PyImport_ImportModule("copyreg");
    PyObject *table = copyreg ? PyObject_GetAttrString(copyreg, "dispatch_table") : NULL;
    Py_XDECREF(copyreg);
    if (table && !PyDict_Check(table)) {
        Py_CLEAR(table);
        PyErr_SetString(PyExc_TypeError, "copyreg.dispatch_table is not a dict");
    }
    return table;
}

static int register_reducer(void)
{
    PyObject *table = dispatch_table();
    if (!table)
        return -1;
    if (!reducer && !(reducer = PyCFunction_New(&reduce_def, NULL))) {
        Py_DECREF(table);
        return -1;
    }
    int rc = PyDict_SetItem(table, (PyObject *)&observed_type, reducer);
    Py_DECREF(table);
    return rc;
}

/* Only our own entry, and only if it is still ours. */
static void unregister_reducer(void)
{
    PyObject *table = dispatch_table();
    PyObject *cur = table ? PyDict_GetItemWithError(table, (PyObject *)&observed_type) : NULL;
    if (cur && cur == reducer && PyDict_DelItem(table, (PyObject *)&observed_type) < 0)
        PyErr_Clear();
    Py_XDECREF(table);
    Py_CLEAR(reducer);
    PyErr_Clear();
}

int retype_function(PyObject *func)
{
    if (!Py_IS_TYPE(func, &PyFunction_Type))
        return 0;
    if (ready() < 0 || (retyped == 0 && register_reducer() < 0))
        return -1;
    Py_SET_TYPE(func, &observed_type);
    /* BINARY_SUBSCR_GETITEM trusts a cached __getitem__ by its version
     * alone; a zero version never matches, and only exact functions get a
     * new one. */
    ((PyFunctionObject *)func)->func_version = 0;
    retyped++;
    return 0;
}

void retype_restore(PyObject *func)
{
    if (!Py_IS_TYPE(func, &observed_type))
        return;
    Py_SET_TYPE(func, &PyFunction_Type);
    if (--retyped == 0)
        unregister_reducer();
}

int is_function(PyObject *o)
{
    return PyFunction_Check(o) || Py_IS_TYPE(o, &observed_type);
}

#else

int retype_function(PyObject *func)
{
    (void)func;
    return 0;
}

void retype_restore(PyObject *func)
{
    (void)func;
}

int is_function(PyObject *o)
{
    return PyFunction_Check(o);
}

#endif
