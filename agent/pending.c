/* Probes whose module is not imported yet are installed the moment it is:
 * a finder placed first on sys.meta_path lets the real finders find the
 * module and wraps its loader for exactly one exec_module call, after which
 * the module's own __spec__.loader and __loader__ are put back.  The finder
 * leaves sys.meta_path when the session ends.
 *
 * A module that was already being imported when we arrived did not come
 * through our finder.  importlib sets its spec's `_initializing` to False the
 * moment its import is done, in the importing thread, before the importer
 * sees the module: for the length of that import the spec's class is a
 * subclass of its own whose __setattr__ notices that assignment and puts the
 * original class back at once (and at the end of the session, whatever). */
#include "session.h"
#include "exec_children.h"

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
"        self._awaited = []\n"
"    def await_import(self, spec):\n"
"        if any(s is spec for s, _ in self._awaited):\n"
"            return\n"
"        orig = type(spec)\n"
"        finder = self\n"
"        class Awaited(orig):\n"
"            __slots__ = ()\n"
"            def __setattr__(self, name, value):\n"
"                orig.__setattr__(self, name, value)\n"
"                if name == '_initializing' and not value:\n"
"                    finder._put_back(self)\n"
"                    try:\n"
"                        finder._notify(self.name)\n"
"                    except BaseException:\n"
"                        pass\n"
"        Awaited.__name__, Awaited.__qualname__ = orig.__name__, orig.__qualname__\n"
"        Awaited.__module__ = orig.__module__\n"
"        spec.__class__ = Awaited\n"
"        self._awaited.append((spec, orig))\n"
"    def _put_back(self, spec):\n"
"        for i, (s, orig) in enumerate(self._awaited):\n"
"            if s is spec:\n"
"                if type(s).__bases__ == (orig,):\n"
"                    s.__class__ = orig\n"
"                del self._awaited[i]\n"
"                return\n"
"    def put_back_all(self):\n"
"        while self._awaited:\n"
"            self._put_back(self._awaited[-1][0])\n"
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
    if (PyUnicode_Check(name) && !atomic_load(&g_agent.stopping)) {
        resolve_module_loaded(name);
        exec_children_module_loaded(name);
    }
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

void pending_await_import(PyObject *module)
{
    PyObject *spec = PyDict_GetItemString(PyModule_GetDict(module), "__spec__");   /* borrowed */
    if (!spec || pending_install() < 0) {
        PyErr_Clear();
        return;
    }
    PyObject *r = PyObject_CallMethod(finder, "await_import", "O", spec);
    Py_XDECREF(r);
    PyErr_Clear();   /* a spec whose class cannot change: the probe stays pending */
}

void pending_remove(void)
{
    if (!finder)
        return;
    PyObject *r = PyObject_CallMethod(finder, "put_back_all", NULL);
    Py_XDECREF(r);
    PyErr_Clear();
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
