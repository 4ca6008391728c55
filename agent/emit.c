/* Clocks, per-thread scratch writers and the hand-off of finished records
 * to the ring.  A hook formats into its own thread's writer because
 * formatting can run user __repr__ code, which may release the GIL and let
 * another thread's hook run in the middle. */
#include "agent.h"
#include "hooks.h"
#include "segments.h"
#include "threads.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

#define NAME_REFRESH 256
#define MAX_HOLDS 16

typedef struct {
    thread_link link;   /* first: its entry in the list of threads (threads.h) */
    jsonw w;
    int reentered;   /* inside a hook on this thread: nested hooks pass through */
    char name[200];  /* `,"thread_id":…,"thread_name":…` of this thread, cached */
    size_t name_len;
    seg_slot name_seg;   /* the same as a segment; forgotten when the name changes */
    int name_uses;   /* refreshed every NAME_REFRESH records: names rarely change */
    /* The hooked functions this thread's calls hold (hooks.h), so that a
     * forked child can give back the holds of the threads it lost; holds
     * beyond MAX_HOLDS distinct functions are only counted, never given back. */
    struct { hooked *h; int n; } holds[MAX_HOLDS];
    int nholds;
    int unlisted;
} thread_state;

/* The pthread key only frees the state when a thread exits; the hot path
 * reads the thread-local pointer. */
static _Thread_local thread_state *tls;
static atomic_llong wall_offset;   /* CLOCK_REALTIME - CLOCK_MONOTONIC */

static void thread_state_free(void *p)
{
    thread_state *ts = p;
    threads_remove(TK_EMIT, &ts->link);
    jsonw_free(&ts->w);
    free(ts);
    tls = NULL;
}

static void tls_init(void)
{
    (void)pthread_key_create(&tls_key, thread_state_free);
}

static thread_state *tstate(void)
{
    if (tls)
        return tls;
    pthread_once(&tls_once, tls_init);
    thread_state *ts = calloc(1, sizeof *ts);
    if (!ts)
        return NULL;
    if (jsonw_init(&ts->w, 4096, RECORD_LIMIT) < 0 || threads_add(TK_EMIT, &ts->link) < 0) {
        jsonw_free(&ts->w);
        free(ts);
        return NULL;
    }
    if (pthread_setspecific(tls_key, ts) != 0) {
        thread_state_free(ts);
        return NULL;
    }
    return tls = ts;
}

jsonw *thread_writer(void)
{
    thread_state *ts = tstate();
    if (!ts)
        return NULL;
    jsonw_reset(&ts->w);
    return &ts->w;
}

int thread_reentered(void)
{
    thread_state *ts = tstate();
    return ts ? ts->reentered : 1;
}

void thread_set_reentered(int v)
{
    thread_state *ts = tstate();
    if (ts)
        ts->reentered = v;
}

void thread_hold(hooked *h)
{
    thread_state *ts = tstate();
    if (!ts)
        return;
    for (int i = 0; i < ts->nholds; i++) {
        if (ts->holds[i].h == h) {
            ts->holds[i].n++;
            return;
        }
    }
    if (ts->nholds < MAX_HOLDS) {
        ts->holds[ts->nholds].h = h;
        ts->holds[ts->nholds++].n = 1;
    } else {
        ts->unlisted++;
    }
}

/* Calls may end out of order (greenlets switch stacks on one thread). */
void thread_unhold(hooked *h)
{
    thread_state *ts = tstate();
    if (!ts)
        return;
    for (int i = 0; i < ts->nholds; i++) {
        if (ts->holds[i].h != h)
            continue;
        if (--ts->holds[i].n == 0)
            ts->holds[i] = ts->holds[--ts->nholds];
        return;
    }
    ts->unlisted--;
}

/* A thread that is gone in a forked child: its calls will never return. */
static void drop_thread(thread_link *l)
{
    thread_state *ts = (thread_state *)l;
    for (int i = 0; i < ts->nholds; i++)
        hooked_calls_gone(ts->holds[i].h, ts->holds[i].n);
    jsonw_free(&ts->w);
    free(ts);
}

void emit_after_fork(void)
{
    threads_drop_others(TK_EMIT, drop_thread);
}

static int64_t clock_ns(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Hooks take one clock reading per event; wall time is derived from it with
 * an offset the agent thread refreshes every loop (NTP steps show up within
 * milliseconds). */
void clock_sync(void)
{
    int64_t m = clock_ns(CLOCK_MONOTONIC);
    int64_t w = clock_ns(CLOCK_REALTIME);
    atomic_store_explicit(&wall_offset, w - m, memory_order_relaxed);
}

int64_t wall_of_mono(int64_t mono)
{
    return mono + atomic_load_explicit(&wall_offset, memory_order_relaxed);
}


int64_t now_mono_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

static PyObject *threading_active;   /* threading._active */
static PyObject *str_name;

int emit_init(void)
{
    if (!str_name && !(str_name = PyUnicode_InternFromString("_name")))
        return -1;
    PyObject *th = PyImport_ImportModule("threading");
    if (!th)
        return -1;
    Py_XDECREF(threading_active);
    threading_active = PyObject_GetAttrString(th, "_active");
    Py_DECREF(th);
    if (!threading_active || !PyDict_Check(threading_active)) {
        Py_CLEAR(threading_active);
        PyErr_Clear();
    }
    clock_sync();
    return 0;
}

/* threading.current_thread() would create a _DummyThread entry for foreign
 * threads: a lasting side effect.  Look the name up without creating one. */
static void lookup_thread(thread_state *ts)
{
    unsigned long ident = PyThread_get_thread_ident();
    PyObject *name = NULL;
    if (threading_active) {
        PyObject *key = PyLong_FromUnsignedLong(ident);
        PyObject *th = key ? PyDict_GetItemWithError(threading_active, key) : NULL;
        Py_XDECREF(key);
        if (th)
            name = PyObject_GetAttr(th, str_name);
        PyErr_Clear();
    }
    jsonw w;
    if (jsonw_init(&w, sizeof ts->name, sizeof ts->name) < 0) {
        Py_XDECREF(name);
        return;
    }
    jsonw_lit(&w, ",\"thread_id\":");
    jsonw_u64(&w, ident);
    jsonw_lit(&w, ",\"thread_name\":");
    if (name && PyUnicode_Check(name))
        fmt_value(&w, name, 0, 1);
    else
        jsonw_lit(&w, "null");
    Py_XDECREF(name);
    if (!w.overflow && (w.len != ts->name_len || memcmp(ts->name, w.buf, w.len))) {
        memcpy(ts->name, w.buf, w.len);
        ts->name_len = w.len;
        ts->name_seg.gen = 0;
    }
    jsonw_free(&w);
}

void emit_thread_fields(jsonw *w)
{
    thread_state *ts = tstate();
    if (!ts)
        return;
    if (ts->name_uses-- <= 0 || !ts->name_len) {
        lookup_thread(ts);
        ts->name_uses = NAME_REFRESH;
    }
    seg_write(w, &ts->name_seg, ts->name, ts->name_len);
}

/* --lossless: the ring is full, so this thread waits, GIL released, until
 * the agent thread has drained it to half (not to one record's room: that
 * would take the GIL back for every record) and a record of len surely
 * fits (twice its slot: the wrap may skip up to one), or until nothing
 * will drain it any more (the recorder is gone or the session is over:
 * sender_gone).  No lock is held while waiting; the agent thread needs
 * none of ours. */
static void wait_for_room(size_t len)
{
    struct timespec pause = {0, 200000};
    size_t size = g_agent.rb.size, slot = 2 * (len + 12);
    Py_BEGIN_ALLOW_THREADS
    for (size_t used; !atomic_load(&g_agent.sender_gone) &&
                      ((used = ring_used(&g_agent.rb)) > size / 2 || used + slot > size);)
        nanosleep(&pause, NULL);   /* EINTR only shortens one pause */
    Py_END_ALLOW_THREADS
}

/* Pushes w's record, waiting for room first under --lossless.  Other
 * threads' hooks may push while this one waits: it retries with the GIL. */
static int push_record(const jsonw *w)
{
    for (;;) {
        if (ring_push(&g_agent.rb, w->buf, w->len, w->len + w->extra) == 0)
            return 0;
        if (!g_agent.lossless || w->len + w->extra > ring_max_record(&g_agent.rb) ||
            atomic_load(&g_agent.sender_gone))
            return -1;
        wait_for_room(w->len);
    }
}

/* Counts against -n only what reached the ring, so `times` observations
 * are exactly what the archive will hold. */
void emit_record(probe *p, jsonw *w)
{
    if (jsonw_over(w) || push_record(w) < 0) {
        p->drops++;
        g_agent.drops++;
        return;
    }
    p->observations++;
    g_agent.emitted++;
    if (p->times >= 0 && p->observations >= p->times)
        p->done = 1;
}
