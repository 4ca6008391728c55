#include "remote_exec.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "debug_read.h"
#include "proc_maps.h"
#include "ptrace_thread.h"

#define PLEASE_STOP_BIT (1u << 5) /* _PY_EVAL_PLEASE_STOP_BIT */
#define MAX_TSTATES DV_MAX_TSTATES
#define FREEZE_NS 500000000LL     /* to stop every thread for the writes */

typedef struct rx {
    const peeka_target *t;
    dbg_view v;                     /* the target's _Py_DebugOffsets */
    uint64_t ts[MAX_TSTATES];       /* thread states asked to run the script */
    uint64_t tid[MAX_TSTATES];      /* their threads' native ids, at the time */
    size_t nts;
    char *err;
    size_t errlen;
} rx;

static int wr(pid_t pid, uint64_t addr, const void *buf, size_t len)
{
    struct iovec l = {(void *)buf, len}, r = {(void *)(uintptr_t)addr, len};
    return process_vm_writev(pid, &l, 1, &r, 1, 0) == (ssize_t)len ? 0 : -1;
}

static uint64_t off(const rx *x, uint32_t field)
{
    return dv_off(&x->v, field);
}

static int noroute(rx *x, const char *why)
{
    snprintf(x->err, x->errlen, "pid %d: the PEP 768 route cannot be used: %s", (int)x->t->pid,
             why);
    return PA_NOROUTE;
}

/* The script path is read by the target in its own mount namespace. */
static int same_mount_ns(pid_t pid)
{
    char p[64];
    struct stat a, b;
    snprintf(p, sizeof p, "/proc/%d/ns/mnt", (int)pid);
    return stat(p, &a) == 0 && stat("/proc/self/ns/mnt", &b) == 0 && a.st_ino == b.st_ino &&
           a.st_dev == b.st_dev;
}

static int load(rx *x)
{
    const peeka_target *t = x->t;
    char why[200];
    if (t->major < 3 || (t->major == 3 && t->minor < 14))
        return noroute(x, "it needs CPython 3.14 or later");
    if (dv_open(&x->v, t, why, sizeof why) < 0)
        return noroute(x, why);
    if (off(x, x->v.L->script_path_size) < 2 || off(x, x->v.L->script_path_size) > 65536)
        return noroute(x, "its script path buffer has an implausible size");
    return PA_OK;
}

static int disabled(rx *x)
{
    int32_t on = 0;
    if (dv_read(x->t->pid, x->v.interp + off(x, x->v.L->enabled), &on, sizeof on) < 0)
        return noroute(x, "its interpreter state cannot be read");
    if (on == 1)
        return PA_OK;
    snprintf(x->err, x->errlen,
             "pid %d has remote debugging turned off (PYTHON_DISABLE_REMOTE_DEBUG in its "
             "environment, -X disable-remote-debug, or a CPython built without it); peeka "
             "respects that. To attach anyway through ptrace, add --via ptrace",
             (int)x->t->pid);
    return PA_DISABLED;
}

/* The target's offsets read and checked, remote debugging on: *s is
 * PA_OK, or why not (x is NULL only when out of memory). */
static rx *rx_open(const peeka_target *t, char *err, size_t errlen, int *s)
{
    rx *x = calloc(1, sizeof *x);
    if (!x) {
        snprintf(err, errlen, "out of memory");
        *s = PA_FAILED;
        return NULL;
    }
    *x = (rx){.t = t, .err = err, .errlen = errlen};
    *s = load(x);
    if (*s == PA_OK)
        *s = disabled(x);
    return x;
}

int peeka_remote_exec_check(const peeka_target *t, char *err, size_t errlen)
{
    int s;
    rx *x = rx_open(t, err, errlen, &s);
    if (s == PA_OK && !same_mount_ns(t->pid))
        s = noroute(x, "it runs in another mount namespace (a container?), where the script "
                       "path would not exist");
    free(x);
    return s;
}

/* --- holding every thread still while the requests are written --------- */

typedef struct frozen {
    pk_thread *th;
    size_t n;
} frozen;

static void thaw(frozen *f)
{
    for (size_t i = 0; i < f->n; i++)
        pk_thread_release(&f->th[i]);
    pk_threads_settle(f->th, f->n, pk_now_ns() + PK_SETTLE_NS);
    free(f->th);
    f->th = NULL;
    f->n = 0;
}

/* The interpreter updates eval_breaker with atomic read-modify-writes of
 * its own; ours from outside cannot be atomic, so nothing may run while
 * we make it (a lost bit would delay a signal handler or a GIL hand-off).
 * Threads that exit meanwhile are skipped. */
static int freeze(rx *x, frozen *f)
{
    pid_t *tids;
    size_t n;
    f->th = NULL;
    f->n = 0;
    if (pk_tasks_list(x->t->pid, &tids, &n) != 0 || !(f->th = calloc(n ? n : 1, sizeof *f->th))) {
        free(tids);
        return noroute(x, "its threads cannot be listed");
    }
    int64_t deadline = pk_now_ns() + FREEZE_NS;
    int s = PA_OK;
    for (size_t i = 0; i < n && s == PA_OK; i++) {
        pk_thread *th = &f->th[f->n];
        int rc = pk_thread_seize(th, x->t->pid, tids[i], deadline);
        if (rc == PK_OK)
            f->n++;
        else if (rc != PK_GONE) {
            char why[320];
            snprintf(why, sizeof why, "thread %d could not be held still (%s)", (int)tids[i],
                     th->err);
            pk_thread_release(th);
            s = noroute(x, why);
        } else {
            pk_thread_release(th);
        }
    }
    free(tids);
    if (s != PA_OK)
        thaw(f);
    return s;
}

/* --- the requests ------------------------------------------------------ */

/* The interpreter's current thread states, into out (at most MAX_TSTATES);
 * a consistent list only while every thread is held still. */
static size_t list_tstates(const rx *x, uint64_t *out)
{
    return dv_tstates(&x->v, out, MAX_TSTATES);
}

static uint64_t native_id(const rx *x, uint64_t ts)
{
    return dv_native_id(&x->v, ts);
}

/* Thread state i is still the one we wrote to: listed now, and not a new
 * thread's state that the allocator put at the same address. */
static int still_there(const rx *x, size_t i, const uint64_t *now, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (now[k] == x->ts[i])
            return native_id(x, x->ts[i]) == x->tid[i];
    return 0;
}

static uint64_t support(const rx *x, uint64_t ts, uint32_t field)
{
    return ts + off(x, x->v.L->support) + off(x, field);
}

static int request(rx *x, uint64_t ts, const char *script)
{
    pid_t pid = x->t->pid;
    int32_t one = 1;
    uint64_t breaker, at = ts + off(x, x->v.L->eval_breaker);
    if (wr(pid, support(x, ts, x->v.L->script_path), script, strlen(script) + 1) ||
        wr(pid, support(x, ts, x->v.L->pending), &one, sizeof one) || dv_read(pid, at, &breaker, 8))
        return -1;
    breaker |= PLEASE_STOP_BIT;
    return wr(pid, at, &breaker, sizeof breaker);
}

static int request_all(rx *x, const char *script)
{
    frozen f;
    int s = freeze(x, &f);
    if (s != PA_OK)
        return s;
    x->nts = list_tstates(x, x->ts);
    size_t asked = 0;
    for (size_t i = 0; i < x->nts; i++) {
        if (request(x, x->ts[i], script) != 0)
            continue;
        x->tid[asked] = native_id(x, x->ts[i]);
        x->ts[asked++] = x->ts[i];
    }
    x->nts = asked;
    thaw(&f);
    return asked ? PA_OK : noroute(x, "no thread state could be written");
}

/* 1 when a thread has taken its request: the interpreter clears the flag
 * just before it runs the script. */
static int taken(const rx *x, uint64_t ts)
{
    int32_t pending = 1;
    return dv_read(x->t->pid, support(x, ts, x->v.L->pending), &pending, sizeof pending) == 0 &&
           pending == 0;
}

/* Clears every request not taken yet, with every thread held still and
 * only in thread states that still exist: a thread that exited since has
 * freed its state, and that memory is someone else's now.  An empty path
 * makes the interpreter skip a request it read a moment before.  1 if a
 * live thread had taken its request, 0 if not, -1 if it cannot be known. */
static int withdraw(rx *x)
{
    frozen f;
    if (freeze(x, &f) != PA_OK)
        return -1;
    uint64_t *now = malloc(MAX_TSTATES * sizeof *now);
    int was_taken = now ? 0 : -1;
    size_t n = now ? list_tstates(x, now) : 0;
    const char nul = 0;
    int32_t zero = 0;
    for (size_t i = 0; i < x->nts && now; i++) {
        if (!still_there(x, i, now, n))
            continue;
        if (taken(x, x->ts[i])) {
            was_taken = 1;
            continue;
        }
        if (wr(x->t->pid, support(x, x->ts[i], x->v.L->script_path), &nul, 1) ||
            wr(x->t->pid, support(x, x->ts[i], x->v.L->pending), &zero, sizeof zero))
            was_taken = -1;
    }
    free(now);
    thaw(&f);
    return was_taken;
}

static int process_gone(pid_t pid)
{
    pk_status st;
    return pk_status_read(pid, 0, &st) != 0 || st.state == 'Z' || st.state == 'X';
}

/* The script's observable effect is the agent connecting back, which
 * makes ready_fd (the listening socket) readable; the flags in thread
 * states are not trusted for it, a state may be freed under our eyes. */
static int connected(int ready_fd, int ms)
{
    struct pollfd p = {.fd = ready_fd, .events = POLLIN};
    int r = poll(&p, 1, ms);
    return r > 0 && (p.revents & POLLIN);
}

static int wait_taken(rx *x, int ready_fd, int grace_ms)
{
    int64_t until = pk_now_ns() + (int64_t)grace_ms * 1000000LL;
    while (!connected(ready_fd, 1)) {
        if (process_gone(x->t->pid)) {
            snprintf(x->err, x->errlen, "pid %d exited during the attach", (int)x->t->pid);
            return PA_EXITED;
        }
        if (pk_now_ns() < until)
            continue;
        int w = withdraw(x);
        if (w == 1 || connected(ready_fd, 0))
            return PA_OK; /* started: it connects once the agent is loaded */
        if (w < 0) {
            snprintf(x->err, x->errlen, "pid %d: the PEP 768 request could not be withdrawn "
                     "safely; it may still run", (int)x->t->pid);
            return PA_FAILED;
        }
        char why[160];
        snprintf(why, sizeof why, "no thread ran Python within %d ms (all blocked in syscalls "
                 "or C code); the request was withdrawn", grace_ms);
        return noroute(x, why);
    }
    withdraw(x); /* the other threads' requests */
    return PA_OK;
}

int peeka_remote_exec(const peeka_target *t, const char *script, int ready_fd, int grace_ms,
                      char *err, size_t errlen)
{
    int s;
    rx *x = rx_open(t, err, errlen, &s);
    if (s == PA_OK && strlen(script) >= off(x, x->v.L->script_path_size))
        s = noroute(x, "the script path is longer than the interpreter's buffer");
    if (s == PA_OK)
        s = request_all(x, script);
    if (s == PA_OK)
        s = wait_taken(x, ready_fd, grace_ms);
    free(x);
    return s;
}

/* --- the GIL, for telling why nothing ran ------------------------------ */

/* The native id of the thread whose state is holder_ts, 0 when it is
 * not in v's thread list (3.8-3.10 find ids from all the threads'). */
static uint64_t holder_of(const dbg_view *v, uint64_t holder_ts, int *ok)
{
    uint64_t *ts = malloc(MAX_TSTATES * sizeof *ts), *native = malloc(MAX_TSTATES * sizeof *native);
    size_t n = ts && native ? dv_tstates(v, ts, MAX_TSTATES) : 0, i = 0;
    while (holder_ts && i < n && ts[i] != holder_ts)
        i++;
    uint64_t holder = 0;
    if (holder_ts && i < n) {
        dv_native_ids(v, ts, n, native);
        holder = native[i];
    }
    *ok = ts && native;
    free(native);
    free(ts);
    return holder;
}

int peeka_gil_read(const peeka_target *t, rx_gil *g)
{
    char why[400];
    dbg_view *v = malloc(sizeof *v);
    dv_gil raw;
    int ok = 0;
    if (v && dv_open(v, t, why, sizeof why) == 0 && dv_gil_read(v, &raw) == 0) {
        g->locked = raw.locked;
        g->switches = raw.switches;
        g->holder = holder_of(v, raw.holder_ts, &ok);
    }
    free(v);
    return ok ? 0 : -1;
}
