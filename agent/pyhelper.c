/* A few things are simpler and safer written in Python (the import hook).
 * They are compiled from source in a private
 * namespace: nothing is added to the target's modules. */
#include "agent.h"

PyObject *agent_pyhelper(const char *src, const char *name)
{
    PyObject *ns = PyDict_New();
    PyObject *modname = PyUnicode_FromString("_peeka_agent");
    if (!ns || !modname || PyDict_SetItemString(ns, "__builtins__", PyEval_GetBuiltins()) < 0 ||
        PyDict_SetItemString(ns, "__name__", modname) < 0) {
        Py_XDECREF(ns);
        Py_XDECREF(modname);
        return NULL;
    }
    Py_DECREF(modname);
    PyObject *r = PyRun_String(src, Py_file_input, ns, ns);
    PyObject *obj = r ? PyDict_GetItemString(ns, name) : NULL;
    Py_XINCREF(obj);
    Py_XDECREF(r);
    Py_DECREF(ns);
    return obj;
}
