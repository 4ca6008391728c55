/* The sampler thread (sampler.h).
 *
 * Locks: the GIL, then SM.mu.  The sampler takes SM.mu only while it
 * holds the GIL or while it waits for work; the agent thread takes SM.mu
 * without the GIL (sampler_tick) or with it (sampler_install).  Neither
 * ever waits for the GIL while it holds SM.mu, so neither order deadlocks.
 * A probe's cycle, seq and records are written only under SM.mu; its
 * observations only by the agent thread, which owns the probe list. */
#include "sampler.h"
#include "thread_probe.h"
#include "task_state.h"
#include "top.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int id;                     /* the probe's, looked up under the GIL at each round */
    int kind;
    int64_t interval_ns;        /* 0: no more rounds (thread without --interval) */
    int64_t wait_ns;
    int64_t next_ns;
    int64_t pending;            /* records written, not yet counted by the agent thread */
    int64_t times;
    int64_t cycle;
    int64_t records;            /* top: written in all, for its -c */
    int wanted, timed_out, dead;
} entry;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int started, stop;
    int asked;                  /* the sampler is after the GIL for a round */
    int64_t asked_ns;
    entry ent[MAX_PROBES];
    int nent;
    jsonw out;                  /* records for the agent thread */
    /* the agent's own threads, never in a snapshot: [0] the agent thread,
     * [1] the sampler (0 until it runs) */
    unsigned long ident[2];
    pid_t tid[2];
    /* the futex the GIL's waiters wait on, seen while the sampler waited
     * (0 until then): threads on it want to run, they hold no lock */
    unsigned long gil_futex;
} SM = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

#define OUT_LIMIT (PEEKA_BATCH_MAX / 2)

static pid_t my_tid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

static probe *probe_by_id(int id)
{
    for (int i = 0; i < g_agent.nprobes; i++)
        if (g_agent.probes[i]->id == id)
            return g_agent.probes[i];
    return NULL;
}

/* GIL and SM.mu held: one snapshot or sample of e's probe. */
static void take(entry *e)
{
    probe *p = e->dead ? NULL : probe_by_id(e->id);
    if (!p || p->done) {
        e->dead = 1;   /* removed, or the session is ending: no more rounds */
        return;
    }
    int64_t cycle = ++e->cycle;
    if (e->kind == PK_THREAD) {
        e->pending += snapshot_write(p, &SM.out, cycle, SM.ident, 2, SM.gil_futex);
        e->dead = e->times > 0 && e->cycle >= e->times;
    } else {   /* top's -c counts records */
        int n = top_sample(p, &SM.out, cycle, SM.ident, 2, e->times > 0 ? e->times - e->records : INT64_MAX);
        e->pending += n;
        e->records += n;
        e->dead = e->times > 0 && e->records >= e->times;
    }
}

/* SM.mu held: the earliest round due, or INT64_MAX. */
static int64_t next_due(void)
{
    int64_t due = INT64_MAX;
    for (int i = 0; i < SM.nent; i++)
        if (!SM.ent[i].dead && SM.ent[i].interval_ns > 0 && SM.ent[i].next_ns < due)
            due = SM.ent[i].next_ns;
    return due;
}

static void wait_until(int64_t due)
{
    if (due == INT64_MAX) {
        pthread_cond_wait(&SM.cv, &SM.mu);
        return;
    }
    struct timespec ts = {(time_t)(due / 1000000000), (long)(due % 1000000000)};
    pthread_cond_timedwait(&SM.cv, &SM.mu, &ts);   /* CLOCK_MONOTONIC: see sampler_install */
}

/* SM.mu held, GIL not: marks the rounds due; 1 when there is one. */
static int mark_due(int64_t now)
{
    int any = 0;
    for (int i = 0; i < SM.nent; i++) {
        entry *e = &SM.ent[i];
        e->wanted = !e->dead && e->interval_ns > 0 && e->next_ns <= now;
        e->timed_out = 0;
        if (e->wanted) {
            any = 1;
            e->next_ns += e->interval_ns;
            if (e->next_ns <= now)   /* a late round skips the ones it missed */
                e->next_ns = now + e->interval_ns;
        }
    }
    return any;
}

/* SM.mu held, after a round: the next one of each probe comes at least
 * half an interval after this one ended.  A round that waited long for
 * the GIL would otherwise be followed at once by the next, and the
 * threads it wants to see would not have run in between. */
static void space_out(int64_t end)
{
    for (int i = 0; i < SM.nent; i++) {
        entry *e = &SM.ent[i];
        if (e->wanted && e->next_ns < end + e->interval_ns / 2)
            e->next_ns = end + e->interval_ns / 2;
    }
}

static void *sampler_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&SM.mu);
    SM.ident[1] = PyThread_get_thread_ident();
    SM.tid[1] = my_tid();
    while (!SM.stop) {
        int64_t now = now_mono_ns(), due = next_due();
        if (due > now) {
            wait_until(due);
            continue;
        }
        if (!mark_due(now))
            continue;
        SM.asked = 1;
        SM.asked_ns = now;
        pthread_mutex_unlock(&SM.mu);
        PyGILState_STATE g = PyGILState_Ensure();
        pthread_mutex_lock(&SM.mu);
        for (int i = 0; i < SM.nent && !SM.stop; i++)
            if (SM.ent[i].wanted && SM.out.len < OUT_LIMIT)
                take(&SM.ent[i]);
        SM.asked = 0;
        pthread_mutex_unlock(&SM.mu);
        PyGILState_Release(g);
        pthread_mutex_lock(&SM.mu);
        space_out(now_mono_ns());
    }
    pthread_mutex_unlock(&SM.mu);
    return NULL;
}

static int start_thread(char *err, size_t errlen)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0 || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0) {
        snprintf(err, errlen, "cannot set up the sampler's clock");
        return -1;
    }
    pthread_cond_destroy(&SM.cv);
    pthread_cond_init(&SM.cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_attr_t a;
    sigset_t all, old;
    sigfillset(&all);
    pthread_attr_init(&a);   /* the default stack: Python code's limits are computed from it */
    pthread_sigmask(SIG_SETMASK, &all, &old);   /* the program's signals are not ours to take */
    int rc = pthread_create(&SM.thread, &a, sampler_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&a);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the sampler thread: %s", strerror(rc));
        return -1;
    }
    SM.started = 1;
    return 0;
}

int sampler_install(probe *p, char *err, size_t errlen)
{
    pthread_mutex_lock(&SM.mu);
    SM.ident[0] = PyThread_get_thread_ident();   /* the agent thread: here */
    SM.tid[0] = my_tid();
    if (!SM.out.buf && jsonw_init(&SM.out, 65536, PEEKA_BATCH_MAX) < 0) {
        pthread_mutex_unlock(&SM.mu);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (SM.nent == MAX_PROBES) {
        pthread_mutex_unlock(&SM.mu);
        snprintf(err, errlen, "too many thread and top probes");
        return -1;
    }
    entry *e = &SM.ent[SM.nent++];
    memset(e, 0, sizeof *e);
    e->id = p->id;
    e->kind = p->kind;
    e->interval_ns = p->interval_ns;
    e->wait_ns = p->wait_ns;
    e->times = p->times;
    e->next_ns = now_mono_ns() + p->interval_ns;
    int rc = 0;
    if (p->kind == PK_THREAD)
        take(e);   /* the first snapshot at once: the GIL is ours already */
    else if (top_prime(p, SM.ident, 2) < 0)
        rc = -1, snprintf(err, errlen, "out of memory");
    if (rc == 0 && !SM.started && e->interval_ns > 0 && !e->dead)
        rc = start_thread(err, errlen);
    pthread_cond_broadcast(&SM.cv);
    pthread_mutex_unlock(&SM.mu);
    return rc;
}

/* The futex the sampler waits on for the GIL, or 0.  A waiter wakes every
 * switch interval (5 ms) to ask the holder to let go, so one look may
 * find it awake: a few looks, 250 us apart. */
static unsigned long gil_futex(void)
{
    for (int i = 0; SM.tid[1] && i < 40; i++) {
        task_state st;
        if (task_state_read(SM.tid[1], &st) == 0 && !strcmp(task_state_word(&st), "lock"))
            return st.arg0;
        struct timespec ts = {0, 250000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* SM.mu held, no GIL: a snapshot asked for longer ago than its --wait is
 * recorded as such, with what the kernel says of each thread.  The
 * sampler waits for the GIL on a futex: the threads waiting on the same
 * one are waiting for the GIL too, and the holder is among the others. */
static void check_timeouts(int64_t now)
{
    for (int i = 0; i < SM.nent; i++) {
        entry *e = &SM.ent[i];
        probe *p = e->wanted && !e->timed_out && !e->dead && e->kind == PK_THREAD &&
                   now - SM.asked_ns >= e->wait_ns ? probe_by_id(e->id) : NULL;
        if (!p)
            continue;
        e->timed_out = 1;
        e->pending += snapshot_timeout(p, &SM.out, ++e->cycle, now - SM.asked_ns, SM.tid, 2, gil_futex());
        if (e->times > 0 && e->cycle >= e->times)
            e->dead = 1;
    }
}

int sampler_tick(int64_t now_mono, int final, sampler_send_fn send)
{
    static jsonw sending;   /* agent thread only */
    if (!sending.buf && jsonw_init(&sending, 65536, PEEKA_BATCH_MAX) < 0)
        return 0;
    pthread_mutex_lock(&SM.mu);
    if (SM.asked && !final) {
        task_state st;
        if (SM.tid[1] && task_state_read(SM.tid[1], &st) == 0 && !strcmp(task_state_word(&st), "lock"))
            SM.gil_futex = st.arg0;
        check_timeouts(now_mono);
    }
    jsonw t = SM.out;   /* the sampler never waits on our send */
    SM.out = sending;
    sending = t;
    for (int i = 0; i < SM.nent; i++) {
        probe *p = probe_by_id(SM.ent[i].id);
        if (p)
            p->observations += SM.ent[i].pending;
        SM.ent[i].pending = 0;
    }
    if (final)
        SM.nent = 0;   /* the session is over: the next one starts afresh */
    pthread_mutex_unlock(&SM.mu);
    int rc = sending.len ? send(sending.buf, sending.len) : 0;
    jsonw_reset(&sending);
    return rc;
}

void sampler_stop(int finalizing)
{
    pthread_mutex_lock(&SM.mu);
    int started = SM.started;
    SM.stop = 1;
    pthread_cond_broadcast(&SM.cv);
    pthread_mutex_unlock(&SM.mu);
    if (started && finalizing)
        pthread_detach(SM.thread);   /* it may never have the GIL again: never wait for it */
    else if (started)
        pthread_join(SM.thread, NULL);
    pthread_mutex_lock(&SM.mu);
    SM.started = 0;
    SM.stop = finalizing;   /* a let-go sampler must stop when it wakes */
    SM.asked = 0;
    SM.ident[1] = 0;
    SM.tid[1] = 0;
    pthread_mutex_unlock(&SM.mu);
}

void sampler_fork_child(void)
{
    SM.mu = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;   /* the parent's sampler may hold it */
    SM.cv = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
    SM.started = SM.stop = SM.asked = 0;
    SM.nent = 0;
    SM.ident[1] = 0;
    SM.tid[1] = 0;
    SM.out.len = 0;
    SM.out.overflow = 0;
}
