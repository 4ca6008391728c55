/* Wrappers where the specialising interpreter ignores a function's
 * vectorcall pointer (wrapper.h says where, per version).  A wrapper binds
 * like a function (a method descriptor) and calls the hook. */
#include "wrapper.h"
#include "dispatch.h"

#if PY_VERSION_HEX >= 0x030D0000   /* older versions need no wrapper */

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    hooked *h;          /* NULL once unhooked: a stale alias then just calls through */
    PyObject *func;
} pwrap;

static PyObject *pwrap_call(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    pwrap *w = (pwrap *)self;
    if (!w->h)
        return PyObject_Vectorcall(w->func, args, nargsf, kwnames);
    return observe_call(w->h, w->func, args, nargsf, kwnames);
}

static PyObject *pwrap_get(PyObject *self, PyObject *obj, PyObject *type)
{
    (void)type;
    if (obj == NULL || obj == Py_None)
        return Py_NewRef(self);
    return PyMethod_New(self, obj);
}

/* Everything but calling is the function's: __name__, __wrapped__, __doc__. */
static PyObject *pwrap_getattro(PyObject *self, PyObject *name)
{
    return PyObject_GetAttr(((pwrap *)self)->func, name);
}

static PyObject *pwrap_repr(PyObject *self)
{
    return PyObject_Repr(((pwrap *)self)->func);
}

static void pwrap_dealloc(PyObject *self)
{
    PyObject_GC_UnTrack(self);
    Py_CLEAR(((pwrap *)self)->func);
    PyObject_GC_Del(self);
}

static int pwrap_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(((pwrap *)self)->func);
    return 0;
}

static PyTypeObject pwrap_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_peeka_agent.observed_function",
    .tp_basicsize = sizeof(pwrap),
    .tp_dealloc = pwrap_dealloc,
    .tp_vectorcall_offset = offsetof(pwrap, vectorcall),
    .tp_repr = pwrap_repr,
    .tp_call = PyVectorcall_Call,
    .tp_getattro = pwrap_getattro,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL |
                Py_TPFLAGS_METHOD_DESCRIPTOR,
    .tp_traverse = pwrap_traverse,
    .tp_descr_get = pwrap_get,
};

int wrapper_ready(void)
{
    return PyType_Ready(&pwrap_type);
}

PyObject *wrapper_unwrap(PyObject *obj)
{
    return Py_IS_TYPE(obj, &pwrap_type) ? ((pwrap *)obj)->func : NULL;
}

static PyObject *pwrap_new(hooked *h)
{
    pwrap *w = PyObject_GC_New(pwrap, &pwrap_type);
    if (!w)
        return NULL;
    w->vectorcall = pwrap_call;
    w->h = h;
    w->func = Py_NewRef(h->func);
    PyObject_GC_Track(w);
    return (PyObject *)w;
}

/* The value to put where `orig` was: the wrapper itself, or the same kind
 * of descriptor around it. */
static PyObject *replacement_for(PyObject *orig, hooked *h, PyObject *wrapper)
{
    if (orig == h->func)
        return Py_NewRef(wrapper);
    if (PyObject_TypeCheck(orig, &PyStaticMethod_Type) || PyObject_TypeCheck(orig, &PyClassMethod_Type)) {
        PyObject *inner = PyObject_GetAttrString(orig, "__func__");
        Py_XDECREF(inner);
        if (inner != h->func) {
            PyErr_Clear();
            return NULL;
        }
        return PyObject_CallOneArg((PyObject *)Py_TYPE(orig), wrapper);
    }
    return NULL;
}

static PyObject *ns_get(PyObject *ns, PyObject *key)
{
    PyObject *d = PyType_Check(ns) ? ((PyTypeObject *)ns)->tp_dict : ns;
    return PyDict_GetItemWithError(d, key);   /* borrowed */
}

static int ns_set(PyObject *ns, PyObject *key, PyObject *value)
{
    /* type's own setattr (it marks the class modified), not a metaclass's */
    return PyType_Check(ns) ? PyType_Type.tp_setattro(ns, key, value) : PyDict_SetItem(ns, key, value);
}

static int replace(hooked *h, PyObject *wrapper, PyObject *ns, PyObject *key)
{
    PyObject *orig = ns_get(ns, key);
    if (!orig)
        return 0;
    PyObject *rep = replacement_for(orig, h, wrapper);
    if (!rep)
        return 0;
    PyObject *entry = PyTuple_Pack(4, ns, key, orig, rep);
    int rc = entry && PyList_Append(h->replacements, entry) == 0 && ns_set(ns, key, rep) == 0 ? 0 : -1;
    Py_XDECREF(entry);
    Py_DECREF(rep);
    return rc;
}

/* The property struct's first slots (Objects/descrobject.c, the same from
 * 3.8 to 3.15); each use is checked against the property's own fget/fset/
 * fdel attributes first, so a different layout is never written to. */
typedef struct {
    PyObject_HEAD
    PyObject *slot[3];   /* fget, fset, fdel */
} prop_head;

static const char *const prop_slot_names[3] = {"fget", "fset", "fdel"};

static int prop_layout_ok(PyObject *prop)
{
    for (int i = 0; i < 3; i++) {
        PyObject *a = PyObject_GetAttrString(prop, prop_slot_names[i]);
        Py_XDECREF(a);
        int same = a == (((prop_head *)prop)->slot[i] ? ((prop_head *)prop)->slot[i] : Py_None);
        if (!a || !same) {
            PyErr_Clear();
            return 0;
        }
    }
    return 1;
}

/* 3.14 enters a property's getter inline, guarded only by the class's
 * version: the wrapper goes into the property's own slot (the property
 * object stays the one the class holds), and the class is marked modified
 * so warm call sites let go of the function. */
static int replace_in_property(hooked *h, PyObject *wrapper, PyObject *cls, PyObject *key)
{
    PyObject *prop = ns_get(cls, key);
    if (!prop || !Py_IS_TYPE(prop, &PyProperty_Type) || !prop_layout_ok(prop))
        return 0;
    for (long i = 0; i < 3; i++) {
        PyObject **slot = &((prop_head *)prop)->slot[i];
        if (*slot != h->func)
            continue;
        PyObject *index = PyLong_FromLong(i);
        PyObject *entry = index ? PyTuple_Pack(4, cls, prop, index, wrapper) : NULL;
        Py_XDECREF(index);
        if (!entry || PyList_Append(h->replacements, entry) < 0) {
            Py_XDECREF(entry);
            return -1;
        }
        Py_DECREF(entry);
        *slot = Py_NewRef(wrapper);
        Py_DECREF(h->func);   /* the property's reference; h holds its own */
    }
    PyType_Modified((PyTypeObject *)cls);
    return 0;
}

static int is_init(PyObject *key)
{
    return PyUnicode_Check(key) && PyUnicode_CompareWithASCIIString(key, "__init__") == 0;
}

int wrapper_install(hooked *h, PyObject *ns, PyObject *key)
{
    int init = ns && PyType_Check(ns) && key && is_init(key);
    int prop = PY_VERSION_HEX >= 0x030E0000 && ns && PyType_Check(ns) && key;
    if (!init && !prop)
        return 0;
    if (!(h->replacements = PyList_New(0)))
        return -1;
    PyObject *wrapper = pwrap_new(h);
    if (!wrapper)
        return -1;
    int rc = 0;
    if (init)
        rc = replace(h, wrapper, ns, key);
    if (rc == 0 && prop)
        rc = replace_in_property(h, wrapper, ns, key);
    Py_DECREF(wrapper);
    return rc;
}

static void disarm(PyObject *rep)
{
    if (Py_IS_TYPE(rep, &pwrap_type)) {
        ((pwrap *)rep)->h = NULL;
        return;
    }
    PyObject *inner = PyObject_GetAttrString(rep, "__func__");
    if (inner && Py_IS_TYPE(inner, &pwrap_type))
        ((pwrap *)inner)->h = NULL;
    Py_XDECREF(inner);
    PyErr_Clear();
}

/* A property slot we filled: put the function back if it is still ours. */
static void restore_property(PyObject *e)
{
    PyObject *cls = PyTuple_GET_ITEM(e, 0), *prop = PyTuple_GET_ITEM(e, 1);
    PyObject *wrapper = PyTuple_GET_ITEM(e, 3);
    PyObject **slot = &((prop_head *)prop)->slot[PyLong_AsLong(PyTuple_GET_ITEM(e, 2))];
    ((pwrap *)wrapper)->h = NULL;
    if (*slot == wrapper) {
        *slot = Py_NewRef(((pwrap *)wrapper)->func);
        Py_DECREF(wrapper);
    }
    PyType_Modified((PyTypeObject *)cls);
}

void wrapper_remove(hooked *h)
{
    if (!h->replacements)
        return;
    for (Py_ssize_t i = PyList_GET_SIZE(h->replacements) - 1; i >= 0; i--) {
        PyObject *e = PyList_GET_ITEM(h->replacements, i);
        if (PyLong_Check(PyTuple_GET_ITEM(e, 2))) {
            restore_property(e);
            continue;
        }
        PyObject *ns = PyTuple_GET_ITEM(e, 0), *key = PyTuple_GET_ITEM(e, 1);
        PyObject *orig = PyTuple_GET_ITEM(e, 2), *rep = PyTuple_GET_ITEM(e, 3);
        disarm(rep);
        if (ns_get(ns, key) == rep && ns_set(ns, key, orig) < 0)
            PyErr_Clear();
        PyErr_Clear();
    }
    Py_CLEAR(h->replacements);
}

#else

int wrapper_install(hooked *h, PyObject *ns, PyObject *key)
{
    (void)h; (void)ns; (void)key;
    return 0;
}

void wrapper_remove(hooked *h)
{
    (void)h;
}

int wrapper_ready(void)
{
    return 0;
}

PyObject *wrapper_unwrap(PyObject *obj)
{
    (void)obj;
    return NULL;
}

#endif
