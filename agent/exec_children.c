/* --follow-forks and the children multiprocessing starts by exec (a
 * forkserver, a spawn child, the resource tracker): a fresh interpreter
 * runs no agent until peeka-rec's scan attaches it (recorder/follow_forks.c),
 * and would run its first calls unseen.  multiprocessing starts every such
 * process through multiprocessing.util.spawnv_passfds (3.8 - 3.15), and
 * each one then waits for what its parent sends after that call returns
 * (spawn: the process object; forkserver: its requests; the tracker: its
 * messages).  So for the session that function is wrapped: once the child
 * has exec'd the same Python, the caller waits, GIL released, until
 * peeka-rec says the child is recorded or given up ("child_recorded"), at
 * most WAIT_MS.
 *
 * 3.8 only: a followed pool worker ends in os._exit(), and 3.8 has no
 * threading._register_atexit to flush the agent before it; its
 * Process._bootstrap calls multiprocessing.util._exit_function() when the
 * target returns, so that function is wrapped in a followed child to end
 * the session after it.  Both wrappers go when the session ends. */
#include "session.h"
#include "exec_children.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Longer than peeka-rec's scan period plus its attach deadline (100 ms +
 * 2 s): the recorder answers first unless it is gone. */
#define WAIT_MS 5000
#define RELEASED_MAX 32

typedef struct {
    const char *module, *name;
    PyMethodDef def;
    PyObject *wrapper;   /* ours while installed; its self is the original */
} wrapped_attr;

static PyObject *spawn_wrapper(PyObject *orig, PyObject *args, PyObject *kw);
static PyObject *exit_wrapper(PyObject *orig, PyObject *args, PyObject *kw);

enum { W_SPAWN, W_EXIT, W_COUNT };
static wrapped_attr W[W_COUNT] = {
    {"multiprocessing.util", "spawnv_passfds",
     {"spawnv_passfds", (PyCFunction)(void (*)(void))spawn_wrapper, METH_VARARGS | METH_KEYWORDS,
      NULL}, NULL},
    {"multiprocessing.util", "_exit_function",
     {"_exit_function", (PyCFunction)(void (*)(void))exit_wrapper, METH_VARARGS | METH_KEYWORDS,
      NULL}, NULL},
};

static int want_spawn;   /* this session wraps spawnv_passfds, now or at its import */

/* The pids peeka-rec answered for, and whether anyone should still wait. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pid_t released[RELEASED_MAX];
static unsigned nreleased;
static int waiting_allowed;

/* GIL held.  The module itself is never imported here (multiprocessing.util
 * registers an atexit function when it is).  1 when wrapped, 0 when not
 * (not imported, or still being imported: then *m is the module). */
static int wrap(wrapped_attr *w, PyObject **m)
{
    if (w->wrapper)
        return 1;
    PyObject *mods = PySys_GetObject("modules");   /* borrowed */
    *m = mods ? PyDict_GetItemString(mods, w->module) : NULL;   /* borrowed */
    PyObject *orig = *m ? PyObject_GetAttrString(*m, w->name) : NULL;
    PyObject *fn = orig ? PyCFunction_New(&w->def, orig) : NULL;
    if (fn && PyObject_SetAttrString(*m, w->name, fn) == 0)
        w->wrapper = fn;
    else
        Py_XDECREF(fn);
    Py_XDECREF(orig);   /* the wrapper holds it */
    PyErr_Clear();
    return w->wrapper != NULL;
}

/* GIL held: the original back, unless the program has replaced ours. */
static void unwrap(wrapped_attr *w)
{
    if (!w->wrapper)
        return;
    PyObject *mods = PySys_GetObject("modules");
    PyObject *m = mods ? PyDict_GetItemString(mods, w->module) : NULL;
    PyObject *cur = m ? PyObject_GetAttrString(m, w->name) : NULL;
    if (cur == w->wrapper)
        PyObject_SetAttrString(m, w->name, PyCFunction_GET_SELF(w->wrapper));
    Py_XDECREF(cur);
    Py_CLEAR(w->wrapper);
    PyErr_Clear();
}

/* The child runs the same executable as we do (the scan adopts only those). */
static int same_exe(long pid)
{
    char path[64], mine[4096], theirs[4096];
    ssize_t a = readlink("/proc/self/exe", mine, sizeof mine - 1);
    snprintf(path, sizeof path, "/proc/%ld/exe", pid);
    ssize_t b = readlink(path, theirs, sizeof theirs - 1);
    if (a < 0 || b < 0 || a != b)
        return 0;
    return memcmp(mine, theirs, (size_t)a) == 0;
}

static int was_released(pid_t pid)
{
    for (unsigned i = 0; i < nreleased && i < RELEASED_MAX; i++)
        if (released[i] == pid)
            return 1;
    return 0;
}

static void wait_recorded(pid_t pid)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += WAIT_MS / 1000;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&mu);
    while (waiting_allowed && !was_released(pid))
        if (pthread_cond_timedwait(&cv, &mu, &until) != 0)
            break;
    pthread_mutex_unlock(&mu);
    Py_END_ALLOW_THREADS
}

/* spawnv_passfds(path, args, passfds) -> pid, the child already exec'd
 * (its error pipe closed on exec). */
static PyObject *spawn_wrapper(PyObject *orig, PyObject *args, PyObject *kw)
{
    PyObject *res = PyObject_Call(orig, args, kw);
    if (!res)
        return NULL;   /* the original's own exception, passed on untouched */
    long pid = PyLong_Check(res) ? PyLong_AsLong(res) : -1;
    if (pid == -1)
        PyErr_Clear();   /* not a pid: nothing to wait for */
    if (pid > 0 && session_active() && same_exe(pid))
        wait_recorded((pid_t)pid);
    return res;
}

/* _exit_function() runs multiprocessing's finalizers; then the session's
 * last records go out, as at interpreter exit. */
static PyObject *exit_wrapper(PyObject *orig, PyObject *args, PyObject *kw)
{
    PyObject *res = PyObject_Call(orig, args, kw);
    PyObject *err_type, *err_value, *err_tb;
    PyErr_Fetch(&err_type, &err_value, &err_tb);
    session_shutdown();
    PyErr_Clear();
    PyErr_Restore(err_type, err_value, err_tb);
    return res;
}

int exec_children_watch(void)
{
    pthread_mutex_lock(&mu);
    waiting_allowed = 1;
    pthread_mutex_unlock(&mu);
    want_spawn = 1;
    PyObject *m = NULL;
    if (wrap(&W[W_SPAWN], &m))
        return 0;
    if (m) {   /* half imported (a spawn child that is starting): wrapped once it is done */
        pending_await_import(m);
        return 0;
    }
    return pending_install();   /* wrapped at its import */
}

void exec_children_module_loaded(PyObject *name)
{
    const char *s = PyUnicode_AsUTF8(name);
    PyObject *m;
    if (s && want_spawn && !strcmp(s, W[W_SPAWN].module))
        wrap(&W[W_SPAWN], &m);
    PyErr_Clear();
}

void exec_children_flush_at_exit_function(void)
{
    PyObject *m;
    wrap(&W[W_EXIT], &m);
}

void exec_children_released(int pid)
{
    pthread_mutex_lock(&mu);
    released[nreleased++ % RELEASED_MAX] = (pid_t)pid;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

void exec_children_end(void)
{
    pthread_mutex_lock(&mu);
    waiting_allowed = 0;
    nreleased = 0;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    want_spawn = 0;
    for (int i = 0; i < W_COUNT; i++)
        unwrap(&W[i]);
}

void exec_children_fork_child(void)
{
    mu = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
    cv = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
    nreleased = 0;
}
