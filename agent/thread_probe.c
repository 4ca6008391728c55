/* The thread probe's records (thread_probe.h).  Everything about a thread is
 * read without running the program's code: its thread state, the
 * threading.Thread object's instance dict (_name, _daemonic, _native_id),
 * and /proc/self/task for what it does natively. */
#include "thread_probe.h"
#include "observe.h"
#include "pyframes.h"
#include "task_state.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    PyThreadState *t;
    unsigned long ident;
    long native;                /* 0: unknown */
    PyObject *name;             /* strong, or NULL */
    int daemon;                 /* -1: not a threading.Thread */
    task_state ts;
    const char *state;
    int gil_waiter;             /* 1: waits for the GIL; 0: no; -1: cannot tell */
    int depth;
} thread_info;

/* The threads of the last snapshot, for one that cannot have the GIL. */
#define NAMES_MAX 1024
static known_thread names[NAMES_MAX];
static int nnames;

int snapshot_known(const known_thread **out)
{
    *out = names;
    return nnames;
}

/* obj.__dict__[key], borrowed (the dict is the instance's own, kept alive
 * by obj), or NULL: no property or __getattr__ of the program runs. */
static PyObject *own_attr(PyObject *obj, const char *key)
{
    PyObject *d = PyObject_GenericGetDict(obj, NULL);
    PyObject *v = d && PyDict_Check(d) ? PyDict_GetItemString(d, key) : NULL;
    Py_XDECREF(d);
    PyErr_Clear();
    return v;
}

/* threading._active (a new reference), or NULL before threading was
 * imported. */
PyObject *pythread_active(void)
{
    PyObject *modname = PyUnicode_FromString("threading");
    PyObject *mod = modname ? PyImport_GetModule(modname) : NULL;
    PyObject *active = mod ? PyObject_GetAttrString(mod, "_active") : NULL;
    Py_XDECREF(mod);
    Py_XDECREF(modname);
    if (active && !PyDict_Check(active))
        Py_CLEAR(active);
    PyErr_Clear();
    return active;
}

int pythread_describe(PyThreadState *t, PyObject *active, long *native, PyObject **name)
{
    int daemon = -1;
    *native = 0;
    *name = NULL;
#if PY_VERSION_HEX >= 0x030B0000
    *native = (long)t->native_thread_id;
#endif
    PyObject *key = PyLong_FromUnsignedLong(t->thread_id);
    PyObject *th = key && active ? PyDict_GetItemWithError(active, key) : NULL;
    Py_XDECREF(key);
    if (th) {
        PyObject *nm = own_attr(th, "_name");
        PyObject *dm = own_attr(th, "_daemonic");
        PyObject *nat = own_attr(th, "_native_id");
        if (nm && PyUnicode_Check(nm)) {
            Py_INCREF(nm);
            *name = nm;
        }
        if (dm)
            daemon = PyObject_IsTrue(dm) == 1;
        if (!*native && nat && PyLong_Check(nat))
            *native = PyLong_AsLong(nat);
    }
    PyErr_Clear();
    return daemon;
}

static void describe(thread_info *ti, PyObject *active)
{
    PyThreadState *t = ti->t;
    ti->ident = t->thread_id;
    ti->daemon = pythread_describe(t, active, &ti->native, &ti->name);
    if (ti->native > 0 && task_state_read((pid_t)ti->native, &ti->ts) == 0)
        ti->state = task_state_word(&ti->ts);
    else
        ti->state = "unknown";
    PyFrameObject *f = pyframe_of_thread(t);
    ti->depth = f ? pyframes_write(NULL, f, 0, 1, 1) : 0;
    Py_XDECREF(f);
    PyErr_Clear();
}

int sampled_record_kept(probe *p, jsonw *w, size_t mark)
{
    if (!w->overflow)
        return 1;
    w->len = mark;
    w->overflow = 0;
    p->drops++;
    p->seq--;
    return 0;
}

int pythread_skipped(unsigned long ident, const unsigned long *skip, int nskip)
{
    for (int i = 0; i < nskip; i++)
        if (skip[i] == ident)
            return 1;
    return 0;
}

/* Every thread of the interpreter but this one and the agent's. */
static int collect(thread_info **out, const unsigned long *skip, int nskip)
{
    PyThreadState *self = PyThreadState_Get();
    int n = 0, cap = 64;
    thread_info *v = calloc((size_t)cap, sizeof *v);
    PyObject *active = pythread_active();
    for (PyThreadState *t = PyInterpreterState_ThreadHead(self->interp); v && t; t = PyThreadState_Next(t)) {
        if (t == self || pythread_skipped(t->thread_id, skip, nskip))
            continue;
        if (n == cap) {
            thread_info *g = realloc(v, (size_t)cap * 2 * sizeof *v);
            if (!g)
                break;   /* a shorter snapshot rather than none */
            v = g;
            cap *= 2;
        }
        memset(&v[n], 0, sizeof v[n]);
        v[n].t = t;
        v[n].gil_waiter = -1;
        describe(&v[n], active);
        n++;
    }
    Py_XDECREF(active);
    *out = v;
    return v ? n : 0;
}

static const char *sort_key;   /* under sampler.c's lock */

static int by_key(const void *a, const void *b)
{
    const thread_info *x = a, *y = b;
    int c = 0;
    if (!strcmp(sort_key, "name")) {
        const char *nx = x->name ? PyUnicode_AsUTF8(x->name) : NULL;
        const char *ny = y->name ? PyUnicode_AsUTF8(y->name) : NULL;
        c = strcmp(nx ? nx : "", ny ? ny : "");
    } else if (!strcmp(sort_key, "state")) {
        c = strcmp(x->state, y->state);
    } else if (!strcmp(sort_key, "depth")) {
        c = (y->depth > x->depth) - (y->depth < x->depth);   /* deepest first */
    }
    if (!c)
        c = (x->ident > y->ident) - (x->ident < y->ident);
    return c;
}

static int wanted(const probe *p, const thread_info *ti)
{
    if (p->tid_filter && (unsigned long)p->tid_filter != ti->ident && p->tid_filter != ti->native)
        return 0;
    return !strcmp(p->state_filter, "any") || !strcmp(p->state_filter, ti->state);
}

static void remember_names(const thread_info *v, int n)
{
    nnames = 0;
    for (int i = 0; i < n && nnames < NAMES_MAX; i++) {
        const char *s = v[i].name ? PyUnicode_AsUTF8(v[i].name) : NULL;
        names[nnames].tstate = v[i].t;
        names[nnames].native = v[i].native;
        names[nnames].ident = v[i].ident;
        snprintf(names[nnames].name, sizeof names[nnames].name, "%s", s ? s : "");
        nnames++;
    }
    PyErr_Clear();
}

void snapshot_write_native(jsonw *w, const task_state *ts)
{
    const char *sc = ts->syscall >= 0 ? task_syscall_name(ts->syscall) : NULL;
    jsonw_lit(w, ",\"syscall\":");
    if (sc)
        jsonw_str(w, sc, strlen(sc));
    else if (ts->syscall >= 0)
        jsonw_i64(w, ts->syscall);
    else
        jsonw_lit(w, "null");
    jsonw_lit(w, ",\"sched\":");
    if (ts->sched != '?')
        jsonw_str(w, &ts->sched, 1);
    else
        jsonw_lit(w, "null");
}

static void write_thread(jsonw *w, probe *p, int64_t cycle, int64_t wall, const thread_info *ti,
                         int count, int index)
{
    write_head(w, "thread", p, cycle, wall, "null", 4);
    jsonw_lit(w, ",\"thread_count\":");
    jsonw_i64(w, count);
    jsonw_lit(w, ",\"index\":");
    jsonw_i64(w, index);
    jsonw_lit(w, ",\"tid\":");
    jsonw_u64(w, ti->ident);
    jsonw_lit(w, ",\"thread_id\":");
    jsonw_u64(w, ti->ident);
    jsonw_lit(w, ",\"native_id\":");
    if (ti->native > 0)
        jsonw_i64(w, ti->native);
    else
        jsonw_lit(w, "null");
    jsonw_lit(w, ",\"name\":");
    fmt_text_or_null(w, ti->name);
    jsonw_lit(w, ",\"thread_name\":");
    fmt_text_or_null(w, ti->name);
    jsonw_lit(w, ",\"daemon\":");
    if (ti->daemon < 0)
        jsonw_lit(w, "null");
    else if (ti->daemon)
        jsonw_lit(w, "true");
    else
        jsonw_lit(w, "false");
    jsonw_lit(w, ",\"alive\":true,\"state\":");
    jsonw_str(w, ti->state, strlen(ti->state));
    snapshot_write_native(w, &ti->ts);
    if (ti->gil_waiter > 0)
        jsonw_lit(w, ",\"gil_waiter\":true");
    else if (ti->gil_waiter == 0)
        jsonw_lit(w, ",\"gil_waiter\":false");
    else
        jsonw_lit(w, ",\"gil_waiter\":null");
    int64_t cpu = ti->native > 0 ? task_cpu_ns((pid_t)ti->native) : -1;
    jsonw_lit(w, ",\"cpu_ns\":");
    if (cpu >= 0)
        jsonw_i64(w, cpu);
    else
        jsonw_lit(w, "null");
    jsonw_lit(w, ",\"stack_depth\":");
    jsonw_i64(w, ti->depth);
    PyFrameObject *f = pyframe_of_thread(ti->t);
    jsonw_lit(w, ",\"top_frame\":");
    if (f)
        pyframes_write(w, f, 1, 1, 0);
    else
        jsonw_lit(w, "null");
    jsonw_lit(w, ",\"stack\":[");
    pyframes_write(w, f, p->max_depth, 1, 0);
    Py_XDECREF(f);
    PyErr_Clear();
    jsonw_lit(w, "]}\n");
}

int snapshot_write(probe *p, jsonw *w, int64_t cycle, const unsigned long *skip, int nskip,
                   unsigned long gil_futex)
{
    int written = 0;
    thread_info *v;
    int n = collect(&v, skip, nskip);
    for (int i = 0; gil_futex && i < n; i++) {
        v[i].gil_waiter = !strcmp(v[i].state, "lock") && v[i].ts.arg0 == gil_futex;
        if (v[i].gil_waiter)
            v[i].state = "running";   /* it wants to run: only the GIL holds it back */
    }
    sort_key = p->sort_by;
    if (n > 1)
        qsort(v, (size_t)n, sizeof *v, by_key);
    remember_names(v, n);
    int64_t wall = wall_of_mono(now_mono_ns());
    for (int i = 0, index = 0; i < n; i++) {
        if (!wanted(p, &v[i]))
            continue;
        size_t mark = w->len;
        write_thread(w, p, cycle, wall, &v[i], n, ++index);
        written += sampled_record_kept(p, w, mark);
    }
    if (written == 0) {   /* a snapshot peeka-rec can count even when no thread matched */
        size_t mark = w->len;
        write_head(w, "thread", p, cycle, wall, "null", 4);
        jsonw_lit(w, ",\"thread_count\":");
        jsonw_i64(w, n);
        jsonw_lit(w, ",\"matched\":0}\n");
        written = sampled_record_kept(p, w, mark);
    }
    for (int i = 0; i < n; i++)
        Py_XDECREF(v[i].name);
    free(v);
    return written;
}
