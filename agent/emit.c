/* Clocks, per-thread scratch writers and the hand-off of finished records
 * to the ring.  A hook formats into its own thread's writer because
 * formatting can run user __repr__ code, which may release the GIL and let
 * another thread's hook run in the middle. */
#include "agent.h"

#include <pthread.h>
#include <time.h>

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

typedef struct {
    jsonw w;
    int reentered;   /* inside a hook on this thread: nested hooks pass through */
} thread_state;

static void thread_state_free(void *p)
{
    thread_state *ts = p;
    jsonw_free(&ts->w);
    free(ts);
}

static void tls_init(void)
{
    (void)pthread_key_create(&tls_key, thread_state_free);
}

static thread_state *tstate(void)
{
    pthread_once(&tls_once, tls_init);
    thread_state *ts = pthread_getspecific(tls_key);
    if (ts)
        return ts;
    ts = calloc(1, sizeof *ts);
    if (!ts)
        return NULL;
    if (jsonw_init(&ts->w, 4096, RECORD_LIMIT) < 0 || pthread_setspecific(tls_key, ts) != 0) {
        jsonw_free(&ts->w);
        free(ts);
        return NULL;
    }
    return ts;
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

int64_t now_wall_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

int64_t now_mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Counts against -n only what reached the ring, so `times` observations
 * are exactly what the archive will hold. */
void emit_record(probe *p, jsonw *w)
{
    if (w->overflow || ring_push(&g_agent.rb, w->buf, w->len) < 0) {
        p->drops++;
        g_agent.drops++;
        return;
    }
    p->observations++;
    g_agent.emitted++;
    if (p->times >= 0 && p->observations >= p->times)
        p->done = 1;
}
