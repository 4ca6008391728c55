/* The trace probe (Peeka's `trace`): one record per traced call holding its
 * call tree, for the calling thread only.
 *
 * Up to 3.11, at entry of the traced call the hook installs a C profile
 * function on this thread alone (PyEval_SetProfile is per thread), keeping
 * the one that was there (cProfile, any sys.setprofile user) and calling it
 * for every event, so it keeps working.  At the call's exit, whether it
 * returned or raised, the previous profile function is put back.  From 3.12
 * the events come from a sys.monitoring tool of trace's own instead
 * (trace_monitoring.h), switched on for the traced call and filtered to its
 * thread here; other profilers keep their own tools.  Events build the tree
 * in this thread's fixed arrays: no Python object is created per event;
 * names are read when the record is written.
 *
 * Nodes are merged per parent and function (a loop calling g 1000 times is
 * one node with count 1000); calls deeper than -d levels are not nodes (their
 * time is their ancestor's self time); a tree holds at most MAX_NODES nodes,
 * further distinct calls are counted in `nodes_dropped`.  With --fold-below,
 * nodes that took less in total are folded into their parent when the
 * record is written. */
#include "trace.h"
#include "trace_monitoring.h"
#include "trace_clock.h"
#include "threads.h"

#include <frameobject.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NODES 2000
#define INDEX_SIZE 4096         /* power of two, at least twice MAX_NODES */
#define MAX_LEVELS 64

/* Node times are clock ticks while the tree grows (trace_clock.h on 3.12+,
 * else nanoseconds), converted when the record is written. */
#if PY_VERSION_HEX >= 0x030C0000
#define TRACE_MONITORING 1
#define TICKS() tclock_now()
#define TICKS_NS(x) tclock_ns(x)
#else
#define TRACE_MONITORING 0
#define TICKS_NS(x) (x)
#endif

typedef struct {
    const void *key;            /* code object, or the C function's PyMethodDef */
    PyObject *obj;              /* strong: the code object or the C callable */
    PyObject *module;           /* strong: Python functions' module name, or NULL */
    int32_t parent, first_child, last_child, next_sibling;
    int64_t total, count;       /* root: total in ns; others: ticks */
    int builtin;
    /* filled when the record is written (prepare_tree) */
    int32_t size;               /* nodes in its subtree, itself included */
    int32_t folded;             /* nodes folded into it */
    int64_t total_ns, kids_ns;  /* its time; the time of its written children */
    int gone;                   /* folded, or below a folded node */
} tnode;

typedef struct {
    int32_t node;
    int64_t start;
} tact;

typedef struct {
    thread_link link;           /* first: its entry in the list of threads (threads.h) */
    int active;                 /* a tree is being built on this thread */
    int root_seen, root_closed, skip_builtin, max_depth, restored;
#if TRACE_MONITORING
    unsigned mon_gen;           /* tmon_begin's generation */
#else
    Py_tracefunc saved_func;    /* the thread's profile function before ours */
    PyObject *saved_obj;        /* strong */
#endif
    tnode nodes[MAX_NODES];
    int32_t nnodes;
    int32_t index[INDEX_SIZE];  /* node + 1, by (parent, key) */
    tact stack[MAX_LEVELS + 1];
    int depth;                  /* open nodes below the root */
    int64_t hidden;             /* open calls that have no node */
    int64_t dropped;            /* calls refused a node by MAX_NODES */
    int64_t t0;
} trace_tls;

static _Thread_local trace_tls *tls;
static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void tls_free(void *p)
{
    threads_remove(TK_TRACE, &((trace_tls *)p)->link);
    free(p);
    tls = NULL;
}

static void tls_init(void)
{
    (void)pthread_key_create(&tls_key, tls_free);
}

static trace_tls *thread_trace(void)
{
    if (tls)
        return tls;
    pthread_once(&tls_once, tls_init);
    trace_tls *t = calloc(1, sizeof *t);
    if (!t || threads_add(TK_TRACE, &t->link) < 0) {
        free(t);
        return NULL;
    }
    if (pthread_setspecific(tls_key, t) != 0) {
        tls_free(t);
        return NULL;
    }
    return tls = t;
}

#if !TRACE_MONITORING
static int set_profile(Py_tracefunc f, PyObject *obj)
{
#if PY_VERSION_HEX >= 0x03090000
    return _PyEval_SetProfile(PyThreadState_Get(), f, obj);
#else
    PyEval_SetProfile(f, obj);
    return 0;
#endif
}
#endif

static size_t slot_of(int32_t parent, const void *key)
{
    uintptr_t x = (uintptr_t)key ^ ((uintptr_t)parent * 0x9E3779B1u);
    x ^= x >> 17;
    x *= 0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 40) & (INDEX_SIZE - 1);
}

/* The module name of a new Python node: from its frame, or under
 * sys.monitoring (no frame object) from the running frame's globals, which
 * at PY_START/PY_RESUME/PY_THROW are the started function's. */
static PyObject *frame_module(PyFrameObject *frame)
{
#if TRACE_MONITORING
    (void)frame;
    PyObject *g = PyEval_GetGlobals();
    Py_XINCREF(g);
#elif PY_VERSION_HEX >= 0x030B0000
    PyObject *g = PyFrame_GetGlobals(frame);
#else
    PyObject *g = frame->f_globals;
    Py_XINCREF(g);
#endif
    PyObject *name = g && PyDict_Check(g) ? PyDict_GetItemString(g, "__name__") : NULL;
    Py_XINCREF(name);
    Py_XDECREF(g);
    return name;
}

/* The child of `parent` for `key`, created on first sight; -1 when full. */
static int32_t child_of(trace_tls *t, int32_t parent, const void *key, PyObject *obj,
                        PyFrameObject *frame, int builtin)
{
    size_t i = slot_of(parent, key);
    for (; t->index[i]; i = (i + 1) & (INDEX_SIZE - 1)) {
        tnode *n = &t->nodes[t->index[i] - 1];
        if (n->key == key && n->parent == parent)
            return t->index[i] - 1;
    }
    if (t->nnodes == MAX_NODES)
        return -1;
    int32_t id = t->nnodes++;
    tnode *n = &t->nodes[id];
    memset(n, 0, sizeof *n);
    n->key = key;
    n->obj = obj;
    Py_INCREF(obj);
    n->module = builtin ? NULL : frame_module(frame);
    n->parent = parent;
    n->first_child = n->last_child = n->next_sibling = -1;
    n->builtin = builtin;
    tnode *p = &t->nodes[parent];
    if (p->last_child >= 0)
        t->nodes[p->last_child].next_sibling = id;
    else
        p->first_child = id;
    p->last_child = id;
    t->index[i] = id + 1;
    return id;
}

static void on_call(trace_tls *t, const void *key, PyObject *obj, PyFrameObject *frame,
                    int builtin, int64_t now)
{
    if (t->hidden || t->depth >= t->max_depth) {
        t->hidden++;
        return;
    }
    int32_t id = child_of(t, t->stack[t->depth].node, key, obj, frame, builtin);
    if (id < 0) {
        t->dropped++;
        t->hidden++;
        return;
    }
    t->depth++;
    t->stack[t->depth].node = id;
    t->stack[t->depth].start = now;
}

static void close_top(trace_tls *t, int64_t now)
{
    tact a = t->stack[t->depth--];
    tnode *n = &t->nodes[a.node];
    int64_t d = now - a.start;
    n->total += d;
    n->count++;
}

static void on_return(trace_tls *t, int64_t now)
{
    if (t->hidden)
        t->hidden--;
    else if (t->depth > 0)
        close_top(t, now);
    else if (t->root_seen)
        t->root_closed = 1;   /* the traced function's own return */
}

#if !TRACE_MONITORING
/* What identifies a C callable across calls: list.append bound to two
 * lists is one function. */
static const void *c_key(PyObject *f)
{
    if (PyCFunction_Check(f))
        return ((PyCFunctionObject *)f)->m_ml;
    if (Py_TYPE(f) == &PyMethodDescr_Type)
        return ((PyMethodDescrObject *)f)->d_method;
    return f;
}
#endif

#if TRACE_MONITORING
/* This thread's tree when it is being built and the event is the
 * application's own; other threads' events end here. */
static inline trace_tls *building(void)
{
    trace_tls *t = tls;
    return t && t->active && !t->root_closed && !thread_reentered() ? t : NULL;
}

/* The key of a call the legacy profile events reported as a C call:
 * C functions and method descriptors called with a self; NULL for the
 * rest (Python functions have their own PY_START).  CALL and C_RETURN or
 * C_RAISE of one call give the same answer, so they stay paired. */
static const void *c_callee(PyObject *f, PyObject *arg0)
{
    if (PyCFunction_Check(f))
        return ((PyCFunctionObject *)f)->m_ml;
    if (Py_TYPE(f) == &PyMethodDescr_Type && arg0 != mon_missing)
        return ((PyMethodDescrObject *)f)->d_method;
    return NULL;
}

/* PY_START, PY_RESUME, PY_THROW: (code, offset[, exception]) */
static void ev_start(trace_tls *t, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1)
        return;
    int64_t now = TICKS();
    PyObject *code = args[0];
    if (!t->root_seen && t->depth == 0 && (const void *)code == t->nodes[0].key)
        t->root_seen = 1;
    else
        on_call(t, code, code, NULL, 0, now);
}

/* CALL: (code, offset, callable, arg0) */
static void ev_call(trace_tls *t, PyObject *const *args, Py_ssize_t nargs)
{
    if (t->skip_builtin || nargs < 4)
        return;
    const void *key = c_callee(args[2], args[3]);
    if (key)
        on_call(t, key, args[2], NULL, 1, TICKS());
}

/* C_RETURN, C_RAISE: (code, offset, callable, arg0) */
static void ev_c_return(trace_tls *t, PyObject *const *args, Py_ssize_t nargs)
{
    if (!t->skip_builtin && nargs >= 4 && c_callee(args[2], args[3]))
        on_return(t, TICKS());
}

/* Every event of the agent's tool comes here, also those switched on for
 * watch's async functions (monitoring.h): building() keeps only this
 * thread's events of a tree being built. */
static void on_event(enum mon_event ev, PyObject *const *args, Py_ssize_t nargs)
{
    trace_tls *t = building();
    if (!t)
        return;
    switch (ev) {
    case MEV_START: case MEV_RESUME: case MEV_THROW:
        ev_start(t, args, nargs);
        break;
    case MEV_RETURN: case MEV_YIELD: case MEV_UNWIND:
        on_return(t, TICKS());
        break;
    case MEV_CALL:
        ev_call(t, args, nargs);
        break;
    case MEV_C_RETURN: case MEV_C_RAISE:
        ev_c_return(t, args, nargs);
        break;
    default:
        break;
    }
}
#else
static int profile_cb(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    (void)obj;
    trace_tls *t = tls;
    if (!t)
        return 0;
    if (t->active && !t->root_closed && !thread_reentered()) {
        int64_t now = now_mono_ns();
        switch (what) {
        case PyTrace_CALL: {
#if PY_VERSION_HEX >= 0x03090000
            PyCodeObject *code = PyFrame_GetCode(frame);
            Py_DECREF(code);   /* the running frame keeps it alive */
#else
            PyCodeObject *code = frame->f_code;
#endif
            if (!t->root_seen && t->depth == 0 && (const void *)code == t->nodes[0].key)
                t->root_seen = 1;
            else
                on_call(t, code, (PyObject *)code, frame, 0, now);
            break;
        }
        case PyTrace_RETURN:
            on_return(t, now);
            break;
        case PyTrace_C_CALL:
            if (!t->skip_builtin)
                on_call(t, c_key(arg), arg, frame, 1, now);
            break;
        case PyTrace_C_RETURN:
        case PyTrace_C_EXCEPTION:
            if (!t->skip_builtin)
                on_return(t, now);
            break;
        default:
            break;
        }
    }
    return t->saved_func ? t->saved_func(t->saved_obj, frame, what, arg) : 0;
}
#endif

int trace_probe_init(probe *p, char *err, size_t errlen)
{
#if TRACE_MONITORING
    tclock_init();
    if (tmon_acquire(on_event, err, errlen) < 0)
        return -1;
    p->holds_events = 1;
#else
    (void)p, (void)err, (void)errlen;
#endif
    return 0;
}

void trace_probe_free(probe *p)
{
#if TRACE_MONITORING
    if (p->kind == PK_TRACE && p->holds_events) {
        tmon_release();
        p->holds_events = 0;
    }
#else
    (void)p;
#endif
}

static probe *wanting_probe(const hooked *h)
{
    for (int i = 0; i < h->nprobes; i++)
        if (h->probes[i]->kind == PK_TRACE && !h->probes[i]->done)
            return h->probes[i];
    return NULL;
}

#if TRACE_MONITORING
static int events_on(trace_tls *t, const probe *p)
{
    unsigned gen = tmon_begin(!p->skip_builtin);
    if (!gen)
        return -1;
    t->mon_gen = gen;
    return 0;
}

static void events_off(trace_tls *t)
{
    kept_exc pending;
    exc_keep(&pending);
    tmon_end(t->mon_gen, !t->skip_builtin);
    exc_restore(&pending);
}
#else
static int events_on(trace_tls *t, const probe *p)
{
    (void)p;
    PyThreadState *ts = PyThreadState_Get();
    Py_tracefunc prev = ts->c_profilefunc;
    PyObject *prev_obj = ts->c_profileobj;
    if (prev == profile_cb)
        return -1;   /* left in place by a restore that failed: never nest ourselves */
    Py_XINCREF(prev_obj);
    if (set_profile(profile_cb, NULL) < 0) {   /* an audit hook said no */
        PyErr_Clear();
        Py_XDECREF(prev_obj);
        return -1;
    }
    t->saved_func = prev;
    t->saved_obj = prev_obj;
    return 0;
}

static void events_off(trace_tls *t)
{
    PyThreadState *ts = PyThreadState_Get();
    /* Someone who set their own profile function inside the traced call
     * keeps it; otherwise the previous one comes back exactly. */
    if (ts->c_profilefunc == profile_cb) {
        kept_exc pending;
        exc_keep(&pending);
        if (set_profile(t->saved_func, t->saved_obj) < 0) {
            exc_restore(&pending);   /* audit hook refused: ours stays and keeps chaining */
            return;
        }
        exc_restore(&pending);
    }
    Py_CLEAR(t->saved_obj);
    t->saved_func = NULL;
}
#endif

int trace_begin(trace_run *r, const call *c)
{
    r->p = NULL;
    probe *p = wanting_probe(c->h);
    trace_tls *t = p ? thread_trace() : NULL;
    if (!t || t->active)
        return 0;   /* a traced call inside another one is part of that tree */
    if (events_on(t, p) < 0)
        return 0;
    t->active = 1;
    t->root_seen = t->root_closed = t->restored = 0;
    t->skip_builtin = p->skip_builtin;
    t->max_depth = p->max_depth < MAX_LEVELS ? p->max_depth : MAX_LEVELS;
    t->depth = 0;
    t->hidden = t->dropped = 0;
    memset(t->index, 0, sizeof t->index);
    tnode *root = &t->nodes[0];
    memset(root, 0, sizeof *root);
    PyObject *code = PyFunction_GET_CODE(c->h->func);
    root->key = code;
    root->obj = code;
    Py_INCREF(code);
    root->parent = root->first_child = root->last_child = root->next_sibling = -1;
    t->nnodes = 1;
    t->stack[0].node = 0;
    t->t0 = t->stack[0].start = now_mono_ns();
    r->p = p;
    return 1;
}

void trace_stop(trace_run *r, int64_t t1)
{
    trace_tls *t = tls;
    (void)r;
    if (!t || !t->active || t->restored)
        return;
    t->restored = 1;
#if TRACE_MONITORING
    int64_t now = TICKS();
    tclock_calibrate();
#else
    int64_t now = t1;
#endif
    while (t->depth > 0)   /* events lost to an unbalanced profile stream */
        close_top(t, now);
    tnode *root = &t->nodes[0];
    root->total = t1 - t->t0;
    root->count = 1;
    events_off(t);
}


/* "module.Qualname" of a Python node (3.8-3.10 code objects know only
 * their plain name), "type.method" or "module.function" of a C one. */
static void write_name(jsonw *w, const tnode *n)
{
    char buf[512];
    if (!n->builtin) {
        PyCodeObject *code = (PyCodeObject *)n->obj;
#if PY_VERSION_HEX >= 0x030B0000
        PyObject *qual = code->co_qualname;
#else
        PyObject *qual = code->co_name;
#endif
        const char *m = n->module && PyUnicode_Check(n->module) ? PyUnicode_AsUTF8(n->module) : NULL;
        const char *q = PyUnicode_AsUTF8(qual);
        PyErr_Clear();
        snprintf(buf, sizeof buf, "%s%s%s", m ? m : "", m ? "." : "", q ? q : "?");
    } else if (PyCFunction_Check(n->obj)) {
        PyCFunctionObject *f = (PyCFunctionObject *)n->obj;
        PyObject *self = f->m_self;
        const char *owner = NULL;
        if (self && PyModule_Check(self))
            owner = PyModule_GetName(self);
        else if (self && PyType_Check(self))
            owner = ((PyTypeObject *)self)->tp_name;
        else if (self)
            owner = Py_TYPE(self)->tp_name;
        else if (f->m_module && PyUnicode_Check(f->m_module))
            owner = PyUnicode_AsUTF8(f->m_module);
        PyErr_Clear();
        snprintf(buf, sizeof buf, "%s%s%s", owner ? owner : "", owner ? "." : "", f->m_ml->ml_name);
    } else if (Py_TYPE(n->obj) == &PyMethodDescr_Type) {
        PyMethodDescrObject *d = (PyMethodDescrObject *)n->obj;
        snprintf(buf, sizeof buf, "%s.%s", d->d_common.d_type->tp_name, d->d_method->ml_name);
    } else {
        snprintf(buf, sizeof buf, "%s", Py_TYPE(n->obj)->tp_name);
    }
    jsonw_str(w, buf, strlen(buf));
}

/* Before writing: node times in ns and --fold-below.  A node whose summed
 * time is below `below` leaves the record with everything beneath it; its
 * time becomes its parent's self time and its parent counts the nodes it
 * took in `folded`.  The root stays, and is never shorter than its written
 * children (their clock may be calibrated a hair differently from its).
 * Returns the nodes kept.  Children always come after their parent. */
static int32_t prepare_tree(trace_tls *t, int64_t below)
{
    for (int32_t i = 0; i < t->nnodes; i++) {
        tnode *n = &t->nodes[i];
        n->size = 1;
        n->folded = 0;
        n->gone = 0;
        n->kids_ns = 0;
        n->total_ns = i ? TICKS_NS(n->total) : n->total;
    }
    for (int32_t i = t->nnodes - 1; i > 0; i--)
        t->nodes[t->nodes[i].parent].size += t->nodes[i].size;
    int32_t kept = t->nnodes ? 1 : 0;
    for (int32_t i = 1; i < t->nnodes; i++) {
        tnode *n = &t->nodes[i];
        tnode *p = &t->nodes[n->parent];
        n->gone = p->gone;
        if (!n->gone && n->total_ns < below) {
            n->gone = 1;
            p->folded += n->size;
        }
        if (!n->gone) {
            p->kids_ns += n->total_ns;
            kept++;
        }
    }
    if (t->nnodes && t->nodes[0].total_ns < t->nodes[0].kids_ns)
        t->nodes[0].total_ns = t->nodes[0].kids_ns;
    return kept;
}

static void write_node(jsonw *w, const trace_tls *t, int32_t id, const call *c)
{
    const tnode *n = &t->nodes[id];
    int64_t self = n->total_ns - n->kids_ns;
    jsonw_lit(w, "{\"func\":");
    if (id == 0)
        jsonw_raw(w, c->h->name_json, c->h->name_json_len);
    else
        write_name(w, n);
    if (n->builtin) {
        jsonw_lit(w, ",\"file\":null,\"line\":null");
    } else {
        PyCodeObject *code = (PyCodeObject *)n->obj;
        jsonw_lit(w, ",\"file\":");
        fmt_text_or_null(w, code->co_filename);
        jsonw_lit(w, ",\"line\":");
        jsonw_i64(w, code->co_firstlineno);
    }
    jsonw_lit(w, ",\"cost_ns\":");
    jsonw_i64(w, n->total_ns);
    jsonw_lit(w, ",\"self_ns\":");
    jsonw_i64(w, self > 0 ? self : 0);
    jsonw_lit(w, ",\"count\":");
    jsonw_i64(w, n->count);
    if (n->folded) {
        jsonw_lit(w, ",\"folded\":");
        jsonw_i64(w, n->folded);
    }
    if (n->builtin)
        jsonw_lit(w, ",\"builtin\":true,\"children\":[");
    else
        jsonw_lit(w, ",\"builtin\":false,\"children\":[");
    int first = 1;
    for (int32_t k = n->first_child; k >= 0 && !w->overflow; k = t->nodes[k].next_sibling) {
        if (t->nodes[k].gone)
            continue;
        if (!first)
            jsonw_char(w, ',');
        first = 0;
        write_node(w, t, k, c);
    }
    jsonw_lit(w, "]}");
}

static void build_record(jsonw *w, probe *p, const call *c, const void *arg)
{
    trace_tls *t = (trace_tls *)arg;
    int32_t kept = prepare_tree(t, p->fold_below_ns);
    write_record_head(w, "trace", p, c);
    jsonw_lit(w, ",\"total_duration_ms\":");
    write_ms(w, t->nodes[0].total_ns);
    jsonw_lit(w, ",\"node_count\":");
    jsonw_i64(w, kept);
    jsonw_lit(w, ",\"nodes_folded\":");
    jsonw_i64(w, t->nnodes - kept);
    if (t->dropped)
        jsonw_lit(w, ",\"truncated\":true");
    else
        jsonw_lit(w, ",\"truncated\":false");
    jsonw_lit(w, ",\"nodes_dropped\":");
    jsonw_i64(w, t->dropped);
    write_outcome(w, c->exc == NULL, c->exc);
    jsonw_lit(w, ",\"call_tree\":");
    write_node(w, t, 0, c);
    emit_thread_fields(w);
    jsonw_lit(w, "}\n");
}

/* A profile function left in place by a failed restore only chains. */
static void clear_tree(trace_tls *t)
{
    for (int32_t i = 0; i < t->nnodes; i++) {
        Py_CLEAR(t->nodes[i].obj);
        Py_CLEAR(t->nodes[i].module);
    }
    t->nnodes = 0;
    t->active = 0;
}

void trace_discard(trace_run *r)
{
    trace_tls *t = tls;
    r->p = NULL;
    if (t && t->active)
        clear_tree(t);
}

/* A thread that is gone in a forked child: its thread state went with it,
 * and with that any profile function of ours that chained to saved_obj. */
static void drop_thread(thread_link *l)
{
    trace_tls *t = (trace_tls *)l;
    clear_tree(t);
#if !TRACE_MONITORING
    Py_CLEAR(t->saved_obj);
#endif
    free(t);
}

void trace_after_fork(void)
{
    threads_drop_others(TK_TRACE, drop_thread);
    trace_tls *t = tls;
    if (!t || !t->active)
        return;
    if (!t->restored) {   /* forked inside a traced call: its events go off now */
        t->restored = 1;
        events_off(t);
    }
    clear_tree(t);   /* the call's own trace_stop and trace_discard then find nothing */
}

/* The probe was kept across the traced call, which may have let the GIL
 * go: it is used only if it is still on the function (observe.h). */
void trace_emit(trace_run *r, const call *c)
{
    probe *p = r->p;
    trace_tls *t = tls;
    if (p && t && t->active && observe_probe_on(c->h, p) && !p->done &&
        t->nodes[0].total >= p->min_duration_ns && condition_holds(p, c))
        observe_emit(p, c, build_record, t, 0);
    trace_discard(r);
}
