/* Watch on an `async def`, CPython 3.12+: the call hands the program its
 * own coroutine, untouched.  Its end is seen through sys.monitoring
 * events of the agent's tool (monitoring.h) on the function's code object:
 * PY_RETURN (a local event), and PY_UNWIND, which can be local from 3.15
 * only and is global before: on while a watch probe on an async def wants
 * exceptions (not with -s); every frame that exits by an exception then
 * calls the handler, which looks no further than the code object.
 *
 * The event is paired with its call through the coroutine of the frame
 * that returns, in coro_table.  The entry holds a weak reference to the
 * coroutine whose callback is the entry itself: a coroutine destroyed
 * before it finished (never awaited, closed, collected while suspended)
 * lets its entry go and is neither kept alive nor reported.  An entry
 * holds the call's arguments until then. */
#include "watch_async.h"
#include "coro_table.h"
#include "dispatch.h"
#include "monitoring.h"

#if PY_VERSION_HEX >= 0x030C0000

#include <frameobject.h>

typedef struct pending_coro {
    PyObject_HEAD
    async_call call;
    const void *coro;           /* the table's key */
    PyObject *wr;               /* weak reference to the coroutine, calling us when it dies */
    struct pending_coro *next;  /* on a list of entries being let go */
} pending_coro;

/* Code objects whose events are on, each with the hooked functions that
 * asked (several functions can share one code object). */
static struct {
    PyObject **code;            /* strong */
    int *users;
    int n, cap;
    int unwind_local;           /* -1: not known yet; 1: PY_UNWIND can be local (3.15+) */
    int unwinders;              /* else: armed functions whose watch probes want exceptions */
} A = {.unwind_local = -1};

/* An entry out of the table: the table's reference to its weakref goes,
 * which frees the entry (its only owner is the weakref). */
static void entry_free(pending_coro *pc)
{
    async_call_release(&pc->call);
    PyObject *wr = pc->wr;
    pc->wr = NULL;
    Py_XDECREF(wr);
}

static void pc_dealloc(PyObject *self)
{
    async_call_release(&((pending_coro *)self)->call);
    PyObject_Free(self);
}

/* The weakref's callback: the coroutine is being destroyed unfinished. */
static PyObject *pc_gone(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)args, (void)kw;
    pending_coro *pc = (pending_coro *)self;
    if (coro_table_take_if(pc->coro, pc))
        entry_free(pc);
    Py_RETURN_NONE;
}

static PyTypeObject pending_coro_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_peeka_agent.pending_coroutine",
    .tp_basicsize = sizeof(pending_coro),
    .tp_dealloc = pc_dealloc,
    .tp_call = pc_gone,
    .tp_flags = Py_TPFLAGS_DEFAULT,
};

static int code_index(PyObject *code)
{
    for (int i = 0; i < A.n; i++)
        if (A.code[i] == code)
            return i;
    return -1;
}

/* The coroutine of the frame that is returning or unwinding now (new
 * reference), if its code is `code`. */
static PyObject *current_coroutine(PyObject *code)
{
    PyFrameObject *f = PyThreadState_GetFrame(PyThreadState_Get());
    if (!f)
        return NULL;
    PyCodeObject *fc = PyFrame_GetCode(f);
    PyObject *gen = (PyObject *)fc == code ? PyFrame_GetGenerator(f) : NULL;
    Py_DECREF(fc);
    Py_DECREF(f);
    return gen;
}

/* PY_RETURN (code, offset, value), PY_UNWIND (code, offset, exception);
 * every other event of the tool, and these for other code, pass by.  A
 * coroutine closed while suspended unwinds with GeneratorExit when it has
 * a handler to run (else CPython closes it without an event): it did not
 * finish, like one destroyed unfinished. */
static void on_event(enum mon_event ev, PyObject *const *args, Py_ssize_t nargs)
{
    if ((ev != MEV_RETURN && ev != MEV_UNWIND) || nargs < 3 || !PyCode_Check(args[0]) ||
        !(((PyCodeObject *)args[0])->co_flags & CO_COROUTINE) || code_index(args[0]) < 0)
        return;
    kept_exc none;   /* nothing is pending in a callback; whatever fails here is dropped */
    exc_keep(&none);
    PyObject *coro = current_coroutine(args[0]);
    pending_coro *pc = coro ? coro_table_take(coro) : NULL;
    Py_XDECREF(coro);
    if (pc) {
        if (ev == MEV_RETURN)
            async_call_report(&pc->call, args[2], NULL);
        else if (!PyErr_GivenExceptionMatches(args[2], PyExc_GeneratorExit))
            async_call_report(&pc->call, NULL, args[2]);
        entry_free(pc);
    }
    exc_restore(&none);
}

PyObject *watch_async_follow(const call *c, int64_t t0, PyObject *coro)
{
    if (!c->h->async_code || PyType_Ready(&pending_coro_type) < 0) {
        PyErr_Clear();
        return NULL;
    }
    pending_coro *pc = PyObject_New(pending_coro, &pending_coro_type);
    if (!pc) {
        PyErr_Clear();
        return NULL;
    }
    pc->coro = coro;
    pc->wr = NULL;
    pc->next = NULL;
    pc->call.h = NULL;
    if (async_call_init(&pc->call, c, t0) < 0 ||
        !(pc->wr = PyWeakref_NewRef(coro, (PyObject *)pc)) ||   /* it holds pc from now */
        coro_table_put(coro, pc) < 0) {
        PyErr_Clear();
        async_call_release(&pc->call);
        Py_CLEAR(pc->wr);
        Py_DECREF(pc);
        return NULL;
    }
    Py_DECREF(pc);   /* owned by its weakref, which the table owns */
    Py_INCREF(coro);
    return coro;
}

/* PY_RETURN, and PY_UNWIND where it can be local. */
static long local_mask(void)
{
    return mon_bit(MEV_RETURN) | (A.unwind_local == 1 ? mon_bit(MEV_UNWIND) : 0);
}

/* Events on for `code`; learns once whether PY_UNWIND can be local. */
static int code_on(PyObject *code)
{
    if (A.unwind_local < 0) {
        A.unwind_local = 1;
        if (mon_set_local(code, local_mask()) == 0)
            return 0;
        if (!PyErr_ExceptionMatches(PyExc_ValueError)) {
            A.unwind_local = -1;   /* refused for another reason: learn it next time */
            return -1;
        }
        PyErr_Clear();
        A.unwind_local = 0;
    }
    return mon_set_local(code, local_mask());
}

static int codes_add(PyObject *code)
{
    int i = code_index(code);
    if (i >= 0) {
        A.users[i]++;
        return 0;
    }
    if (A.n == A.cap) {
        int cap = A.cap ? A.cap * 2 : 8;
        PyObject **c = realloc(A.code, sizeof *c * (size_t)cap);
        if (c)
            A.code = c;
        int *u = c ? realloc(A.users, sizeof *u * (size_t)cap) : NULL;
        if (!u) {
            PyErr_NoMemory();
            return -1;
        }
        A.users = u;
        A.cap = cap;
    }
    if (code_on(code) < 0)
        return -1;
    Py_INCREF(code);
    A.code[A.n] = code;
    A.users[A.n++] = 1;
    return 0;
}

static void codes_remove(PyObject *code)
{
    int i = code_index(code);
    if (i < 0 || --A.users[i] > 0)
        return;
    if (mon_set_local(code, 0) < 0)
        PyErr_Clear();
    Py_DECREF(A.code[i]);
    A.code[i] = A.code[--A.n];
    A.users[i] = A.users[A.n];
}

static int wants_exceptions(const hooked *h)
{
    for (int i = 0; i < h->nprobes; i++)
        if (h->probes[i]->kind == PK_WATCH && h->probes[i]->at_exception)
            return 1;
    return 0;
}

/* h's share of the global PY_UNWIND, where it cannot be local: on with the
 * first function that wants it, off with the last. */
static int set_unwind(hooked *h, int want)
{
    want = want && A.unwind_local == 0;
    if (want == h->async_unwind)
        return 0;
    int n = A.unwinders + (want ? 1 : -1);
    if ((n > 0) != (A.unwinders > 0) &&
        mon_set_global(MON_ASYNC, n > 0 ? mon_bit(MEV_UNWIND) : 0) < 0 && want) {
        PyErr_SetString(PyExc_RuntimeError, "sys.monitoring refused the PY_UNWIND event");
        return -1;
    }   /* refused to go off: it stays on, the handler ignores what is not ours */
    A.unwinders = n;
    h->async_unwind = want;
    return 0;
}

struct dropping {
    const hooked *h;
    pending_coro *head;
};

static int of_hook(void *value, void *ctx)
{
    return ((pending_coro *)value)->call.h == ((struct dropping *)ctx)->h;
}

static void onto_list(void *value, void *ctx)
{
    pending_coro *pc = value;
    struct dropping *d = ctx;
    pc->next = d->head;
    d->head = pc;
}

/* The coroutines of h's calls that are still running are not followed
 * any more: their entries go (and with them the weak references).  Freeing
 * runs the arguments' finalizers: only once they are all out of the table. */
static void drop_entries(const hooked *h)
{
    struct dropping d = {h, NULL};
    coro_table_take_all(of_hook, onto_list, &d);
    while (d.head) {
        pending_coro *next = d.head->next;
        entry_free(d.head);
        d.head = next;
    }
}

static void disarm(hooked *h)
{
    PyObject *code = h->async_code;
    h->async_code = NULL;
    /* gone from h first: a finalizer run by drop_entries that calls h
     * must not find it half armed */
    kept_exc pending;
    exc_keep(&pending);
    (void)set_unwind(h, 0);
    drop_entries(h);
    codes_remove(code);
    Py_DECREF(code);
    exc_restore(&pending);
}

static int arm(hooked *h)
{
    PyObject *code = PyFunction_GET_CODE(h->func);
    if (codes_add(code) < 0)
        return -1;
    Py_INCREF(code);   /* f.__code__ may be replaced meanwhile: disarm what was armed */
    h->async_code = code;
    return 0;
}

int observe_probes_changed(hooked *h, probe *added)
{
    if (!h->is_coro)
        return 0;
    if (added && added->kind == PK_WATCH && !added->holds_events) {
        char err[400];
        if (mon_acquire(MON_ASYNC, on_event, "watch of an async def", err, sizeof err) < 0) {
            PyErr_SetString(PyExc_RuntimeError, err);
            return -1;
        }
        added->holds_events = 1;
    }
    if (h->nprobes == h->other_kinds) {   /* no watch probe left */
        if (h->async_code)
            disarm(h);
        return 0;
    }
    int fresh = !h->async_code;
    if (fresh && arm(h) < 0)
        return -1;
    if (set_unwind(h, wants_exceptions(h)) < 0) {
        if (fresh)
            disarm(h);
        return -1;
    }
    return 0;
}

void watch_async_probe_free(probe *p)
{
    if (p->kind == PK_WATCH && p->holds_events)
        mon_release(MON_ASYNC);
    p->holds_events = 0;
}

#endif
