/* Probes whose module is not imported yet are installed the moment it is:
 * a finder placed first on sys.meta_path lets the real finders find the
 * module and wraps its loader for exactly one exec_module call, after which
 * the module's own __spec__.loader and __loader__ are put back.  The finder
 * leaves sys.meta_path when the session ends. */
#include "session.h"

static const char finder_src[] =
"import sys\n"
"class _Loader:\n"
"    def __init__(self, real, notify):\n"
"        self._real = real\n"
"        self._notify = notify\n"
"    def __getattr__(self, name):\n"
"        return getattr(self._real, name)\n"
"    def create_module(self, spec):\n"
"        f = getattr(self._real, 'create_module', None)\n"
"        return f(spec) if f is not None else None\n"
"    def exec_module(self, module):\n"
"        try:\n"
"            self._real.exec_module(module)\n"
"        finally:\n"
"            spec = getattr(module, '__spec__', None)\n"
"            if spec is not None and spec.loader is self:\n"
"                spec.loader = self._real\n"
"            if getattr(module, '__loader__', None) is self:\n"
"                module.__loader__ = self._real\n"
"        try:\n"
"            self._notify(module.__name__)\n"
"        except BaseException:\n"
"            pass\n"
"class PeekaPendingFinder:\n"
"    def __init__(self, notify):\n"
"        self._notify = notify\n"
"    def find_spec(self, name, path=None, target=None):\n"
"        for finder in sys.meta_path:\n"
"            if finder is self:\n"
"                continue\n"
"            find = getattr(finder, 'find_spec', None)\n"
"            if find is None:\n"
"                continue\n"
"            spec = find(name, path, target)\n"
"            if spec is not None:\n"
"                break\n"
"        else:\n"
"            return None\n"
"        loader = spec.loader\n"
"        if loader is not None and hasattr(loader, 'exec_module'):\n"
"            spec.loader = _Loader(loader, self._notify)\n"
"        return spec\n";

static PyObject *finder;   /* our instance while it is on sys.meta_path */

static PyObject *notify(PyObject *self, PyObject *name)
{
    (void)self;
    if (PyUnicode_Check(name) && !atomic_load(&g_agent.stopping))
        resolve_module_loaded(name);
    PyErr_Clear();
    Py_RETURN_NONE;
}

static PyMethodDef notify_def = {"_peeka_imported", notify, METH_O, NULL};

int pending_wanted(void)
{
    for (int i = 0; i < g_agent.nprobes; i++)
        if (g_agent.probes[i]->pending)
            return 1;
    return 0;
}

int pending_install(void)
{
    if (finder)
        return 0;
    PyObject *meta_path = PySys_GetObject("meta_path");   /* borrowed */
    if (!meta_path || !PyList_Check(meta_path))
        return -1;
    PyObject *cls = agent_pyhelper(finder_src, "PeekaPendingFinder");
    PyObject *fn = cls ? PyCFunction_New(&notify_def, NULL) : NULL;
    finder = fn ? PyObject_CallFunctionObjArgs(cls, fn, NULL) : NULL;
    Py_XDECREF(fn);
    Py_XDECREF(cls);
    if (!finder || PyList_Insert(meta_path, 0, finder) < 0) {
        Py_CLEAR(finder);
        return -1;
    }
    return 0;
}

void pending_remove(void)
{
    if (!finder)
        return;
    PyObject *meta_path = PySys_GetObject("meta_path");
    for (Py_ssize_t i = 0; meta_path && PyList_Check(meta_path) && i < PyList_GET_SIZE(meta_path); i++) {
        if (PyList_GET_ITEM(meta_path, i) == finder) {
            PySequence_DelItem(meta_path, i);
            break;
        }
    }
    PyErr_Clear();
    Py_CLEAR(finder);
}
