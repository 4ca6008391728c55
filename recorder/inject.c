#include "inject.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "proc_maps.h"
#include "ptrace_thread.h"

#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441
#endif
#define FUTEX_CMD_MASK_ 0x7f /* without FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME */
#define FUTEX_WAIT_BITSET_ 9

#define PAGE 4096u
/* The request block at the start of the data page (see THUNK). */
#define REQ_MAGIC     0x5145526b6165ull /* "keaREQ" */
#define REQ_STATE     8   /* i32: 0 queued, 1 running, 2 done, 3 cancelled */
#define REQ_GILSTATE  12
#define REQ_ENSURE    16
#define REQ_RUN       24
#define REQ_RELEASE   32
#define REQ_MUNMAP    40
#define REQ_MAPBASE   48
#define REQ_MAPLEN    56
#define REQ_CODE      64
#define REQ_RESULT    72
#define REQ_FINALIZING 80 /* Py_IsFinalizing / _Py_IsFinalizing, or 0 */
#define REQ_TRAP      128 /* return address of our calls: in the NX data page */
#define REQ_TEXT      256 /* the wrapped source */

enum { ST_QUEUED = 0, ST_RUNNING = 1, ST_DONE = 2, ST_CANCELLED = 3 };
enum route { R_NONE = 0, R_THREAD, R_PENDING };
#define RETRY (-1)
/* Polls (>= 1 ms apart once warmed up) that must find the main thread
 * asleep before a queued pending call is withdrawn. */
#define MAIN_REST_POLLS 8

/* thunk(req): if CAS(state, 0 -> 1) { if (finalizing()) state = 3; else
 * { g = ensure(); result = run(code); release(g); state = 2; } }
 * tail-call munmap(map_base, map_len).  It runs either as the start
 * routine of a helper thread or as a pending call; the tail call frees its
 * own code and data and returns 0 to its caller.  The finalizing check is
 * repeated here because a helper thread starts a while after check_alive:
 * PyGILState_Ensure in a new thread once the interpreter has torn down its
 * thread-state key is a fatal error (3.14 "gilstate_tss_set").
 * Assembled from docs/attach.md; offsets are the REQ_* above. */
static const uint8_t THUNK[] = {
    0x53,                               /* push rbx                   */
    0x48, 0x89, 0xfb,                   /* mov rbx, rdi               */
    0x31, 0xc0,                         /* xor eax, eax               */
    0xb9, 0x01, 0x00, 0x00, 0x00,       /* mov ecx, 1                 */
    0xf0, 0x0f, 0xb1, 0x4b, 0x08,       /* lock cmpxchg [rbx+8], ecx  */
    0x75, 0x2c,                         /* jne skip                   */
    0x48, 0x8b, 0x43, 0x50,             /* mov rax, [rbx+80]          */
    0x48, 0x85, 0xc0,                   /* test rax, rax              */
    0x74, 0x06,                         /* jz ensure                  */
    0xff, 0xd0,                         /* call rax  finalizing       */
    0x85, 0xc0,                         /* test eax, eax              */
    0x75, 0x2c,                         /* jnz late                   */
    0xff, 0x53, 0x10,                   /* ensure: call [rbx+16]      */
    0x89, 0x43, 0x0c,                   /* mov [rbx+12], eax          */
    0x48, 0x8b, 0x7b, 0x40,             /* mov rdi, [rbx+64]          */
    0xff, 0x53, 0x18,                   /* call [rbx+24]  run         */
    0x89, 0x43, 0x48,                   /* mov [rbx+72], eax          */
    0x8b, 0x7b, 0x0c,                   /* mov edi, [rbx+12]          */
    0xff, 0x53, 0x20,                   /* call [rbx+32]  release     */
    0xc7, 0x43, 0x08, 0x02, 0, 0, 0,    /* mov dword [rbx+8], 2       */
    0x48, 0x8b, 0x7b, 0x30,             /* skip: mov rdi, [rbx+48]    */
    0x48, 0x8b, 0x73, 0x38,             /* mov rsi, [rbx+56]          */
    0x48, 0x8b, 0x43, 0x28,             /* mov rax, [rbx+40]  munmap  */
    0x5b,                               /* pop rbx                    */
    0xff, 0xe0,                         /* jmp rax                    */
    0xc7, 0x43, 0x08, 0x03, 0, 0, 0,    /* late: mov dword [rbx+8], 3 */
    0xeb, 0xe8,                         /* jmp skip                   */
};

static const char *last_route = "none";
/* This attach met an interpreter not initialised yet (a process that has
 * just exec'd Python): its timeout says so. */
static int saw_starting;

const char *pk_last_route(void)
{
    return last_route;
}

typedef struct ctx {
    const peeka_target *t;
    const char *wrapped;
    size_t wrapped_len;
    int64_t deadline;
    char *err;
    size_t errlen;
} ctx;

/* --- choosing a thread ------------------------------------------------ */

static int fd_is_stream(pid_t pid, uint64_t fd)
{
    char link[256];
    if (fd > 1u << 20 || pk_fd_target(pid, (int)fd, link, sizeof link) != 0)
        return 0;
    return strncmp(link, "socket:", 7) == 0 || strncmp(link, "pipe:", 5) == 0 ||
           strncmp(link, "anon_inode:", 11) == 0 || strncmp(link, "/dev/pts/", 9) == 0 ||
           strncmp(link, "/dev/tty", 8) == 0;
}

int pk_rest_score(pid_t pid, long nr, const uint64_t args[6])
{
    switch (nr) {
    case SYS_clock_nanosleep: case SYS_nanosleep: case SYS_select: case SYS_pselect6:
    case SYS_poll: case SYS_ppoll: case SYS_epoll_wait: case SYS_epoll_pwait:
    case SYS_epoll_pwait2: case SYS_accept: case SYS_accept4: case SYS_wait4:
    case SYS_waitid: case SYS_pause: case SYS_rt_sigsuspend: case SYS_rt_sigtimedwait:
        return 2;
    case SYS_read: case SYS_readv: case SYS_recvfrom: case SYS_recvmsg:
        return fd_is_stream(pid, args[0]) ? 2 : 0;
    case SYS_futex:
        return (args[1] & FUTEX_CMD_MASK_) == FUTEX_WAIT_BITSET_ ? 1 : 0;
    case SYS_restart_syscall:
        /* A timed sleep, poll or futex wait resumed after a stop (ours,
         * often): its arguments are gone, so rank it with futex waits. */
        return 1;
    default:
        return 0;
    }
}

typedef struct cand {
    pid_t tid;
    int rank; /* 3 resting, 2 main thread running, 1 futex wait */
} cand;

static int cand_cmp(const void *a, const void *b)
{
    return ((const cand *)b)->rank - ((const cand *)a)->rank;
}

/* Threads worth trying, best first; *n of them in *out (malloc'd). */
static int list_candidates(pid_t pid, cand **out, size_t *n)
{
    pid_t *tids;
    size_t nt, k = 0;
    *out = NULL;
    *n = 0;
    int rc = pk_tasks_list(pid, &tids, &nt);
    if (rc != 0)
        return rc;
    cand *c = calloc(nt ? nt : 1, sizeof *c);
    if (!c) {
        free(tids);
        return -ENOMEM;
    }
    for (size_t i = 0; i < nt; i++) {
        pk_sysinfo si;
        if (pk_task_syscall(pid, tids[i], &si) != 0)
            continue;
        int s = si.running ? 0 : pk_rest_score(pid, si.nr, si.args);
        int rank = s == 2 ? 3 : s == 1 ? 1 : 0;
        if (!rank && tids[i] == pid && (si.running || si.nr < 0))
            rank = 2;
        if (rank)
            c[k++] = (cand){tids[i], rank};
    }
    free(tids);
    qsort(c, k, sizeof *c, cand_cmp);
    *out = c;
    *n = k;
    return 0;
}

/* What the stopped thread allows, judged from its real registers. */
static enum route stopped_route(const ctx *c, pk_thread *th)
{
    long nr = (long)th->saved.orig_rax;
    if (nr >= 0) {
        uint64_t a[6] = {th->saved.rdi, th->saved.rsi, th->saved.rdx,
                         th->saved.r10, th->saved.r8, th->saved.r9};
        uint8_t insn[2];
        if (pk_rest_score(c->t->pid, nr, a) > 0 &&
            pk_mem_read(th, th->saved.rip - 2, insn, 2) == PK_OK && insn[0] == 0x0f &&
            insn[1] == 0x05)
            return R_THREAD;
        return R_NONE;
    }
    return th->tid == c->t->pid ? R_PENDING : R_NONE;
}

/* --- status and messages ---------------------------------------------- */

static int perm_message(const ctx *c, const char *detail)
{
    snprintf(c->err, c->errlen,
             "pid %d: ptrace refused (%s). Allow it: same user as the target or root with "
             "CAP_SYS_PTRACE (docker: --cap-add SYS_PTRACE), kernel.yama.ptrace_scope <= 1 "
             "(sysctl kernel.yama.ptrace_scope=0 for non-root), no other debugger attached",
             (int)c->t->pid, detail);
    return PA_PERM;
}

/* Checks the process before touching it. */
static int precheck(const ctx *c)
{
    pk_status st;
    int rc = pk_status_read(c->t->pid, 0, &st);
    if (rc != 0) {
        snprintf(c->err, c->errlen, "pid %d is gone", (int)c->t->pid);
        return PA_EXITED;
    }
    if (st.state == 'Z' || st.state == 'X') {
        snprintf(c->err, c->errlen, "pid %d has exited (zombie)", (int)c->t->pid);
        return PA_EXITED;
    }
    if (st.tracer_pid != 0) {
        char d[96];
        snprintf(d, sizeof d, "already traced by pid %d", (int)st.tracer_pid);
        return perm_message(c, d);
    }
    if (st.state == 'T' || st.state == 't') {
        snprintf(c->err, c->errlen,
                 "pid %d is stopped (SIGSTOP or Ctrl-Z); resume it with `kill -CONT %d` "
                 "and try again", (int)c->t->pid, (int)c->t->pid);
        return PA_STOPPED;
    }
    if (st.seccomp == 1) {
        snprintf(c->err, c->errlen,
                 "pid %d runs in strict seccomp mode: it may not make the syscalls an "
                 "injection needs", (int)c->t->pid);
        return PA_SECCOMP;
    }
    return PA_OK;
}

static int process_gone(pid_t pid)
{
    pk_status st;
    return pk_status_read(pid, 0, &st) != 0 || st.state == 'Z' || st.state == 'X';
}

static int thread_alive(pid_t pid, pid_t tid)
{
    pk_status st;
    return pk_status_read(pid, tid, &st) == 0 && st.state != 'Z' && st.state != 'X';
}

/* Maps a pk_thread result to a status; RETRY when only the thread went. */
static int thread_status(const ctx *c, pk_thread *th, int rc)
{
    switch (rc) {
    case PK_OK:
        return PA_OK;
    case PK_GONE:
        if (!process_gone(c->t->pid))
            return RETRY;
        snprintf(c->err, c->errlen, "pid %d exited during the attach", (int)c->t->pid);
        return PA_EXITED;
    case PK_PERM:
        /* The kernel also says EPERM for a task that is already exiting. */
        if (process_gone(c->t->pid)) {
            snprintf(c->err, c->errlen, "pid %d exited during the attach", (int)c->t->pid);
            return PA_EXITED;
        }
        if (!thread_alive(c->t->pid, th->tid))
            return RETRY;
        return perm_message(c, th->err);
    case PK_STOPPED:
        snprintf(c->err, c->errlen, "pid %d was stopped (SIGSTOP) during the attach; "
                 "resume it with `kill -CONT %d`", (int)c->t->pid, (int)c->t->pid);
        return PA_STOPPED;
    case PK_TIMEOUT:
        snprintf(c->err, c->errlen, "pid %d: %s", (int)c->t->pid,
                 th->err[0] ? th->err : "thread did not stop in time");
        return PA_TIMEOUT;
    default:
        snprintf(c->err, c->errlen, "pid %d: %s", (int)c->t->pid, th->err);
        return PA_FAILED;
    }
}

/* --- the hand-over ---------------------------------------------------- */

static int rsys(const ctx *c, pk_thread *th, long nr, uint64_t a0, uint64_t a1, uint64_t a2,
                uint64_t a3, uint64_t a4, uint64_t a5, int64_t *ret)
{
    const uint64_t a[6] = {a0, a1, a2, a3, a4, a5};
    return pk_thread_syscall(th, c->t->syscall_insn, nr, a, ret);
}

static int refused(int64_t r)
{
    return r == -EPERM || r == -EACCES || r == -ENOSYS;
}

static void remote_unmap(const ctx *c, pk_thread *th, uint64_t base, uint64_t len)
{
    int64_t r;
    rsys(c, th, SYS_munmap, base, len, 0, 0, 0, 0, &r);
}

static int write_request(const ctx *c, pk_thread *th, uint64_t base, uint64_t len)
{
    size_t dlen = len - PAGE;
    uint8_t *d = calloc(1, dlen);
    if (!d)
        return PK_FAIL;
    uint64_t data = base + PAGE;
    uint64_t f[] = {REQ_MAGIC, 0, c->t->gilstate_ensure, c->t->run_simple_string,
                    c->t->gilstate_release, c->t->libc_munmap, base, len, data + REQ_TEXT,
                    0, c->t->is_finalizing};
    memcpy(d, f, sizeof f);
    memcpy(d + REQ_TEXT, c->wrapped, c->wrapped_len + 1);
    int rc = pk_mem_write(th, data, d, dlen);
    free(d);
    if (rc == PK_OK)
        rc = pk_mem_write(th, base, THUNK, sizeof THUNK);
    return rc;
}

/* Maps code + data in the target: one page R-X (the thunk), then RW. */
static int map_request(const ctx *c, pk_thread *th, uint64_t *base, uint64_t *len)
{
    *len = PAGE + ((REQ_TEXT + c->wrapped_len + 1 + PAGE - 1) / PAGE) * PAGE;
    int64_t r;
    int rc = rsys(c, th, SYS_mmap, 0, *len, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, (uint64_t)-1, 0, &r);
    if (rc != PK_OK)
        return thread_status(c, th, rc);
    if (r < 0 && r > -4096) {
        snprintf(c->err, c->errlen, "pid %d: mmap in the target failed: %s%s", (int)c->t->pid,
                 strerror((int)-r), refused(r) ? " (refused by a seccomp filter?)" : "");
        return refused(r) ? PA_SECCOMP : PA_FAILED;
    }
    *base = (uint64_t)r;
    if (write_request(c, th, *base, *len) != PK_OK) {
        remote_unmap(c, th, *base, *len);
        snprintf(c->err, c->errlen, "pid %d: writing to its memory failed", (int)c->t->pid);
        return PA_FAILED;
    }
    rc = rsys(c, th, SYS_mprotect, *base, PAGE, PROT_READ | PROT_EXEC, 0, 0, 0, &r);
    if (rc != PK_OK)
        return thread_status(c, th, rc);
    if (r != 0) {
        remote_unmap(c, th, *base, *len);
        snprintf(c->err, c->errlen, "pid %d: mprotect(PROT_EXEC) in the target failed: %s "
                 "(seccomp filter, or SELinux denying execmem)", (int)c->t->pid,
                 strerror((int)-r));
        return refused(r) ? PA_SECCOMP : PA_FAILED;
    }
    return PA_OK;
}

/* 3.8's Py_AddPendingCall prints an error through sys.excepthook, i.e.
 * runs Python code wherever the thread was, once Py_FinalizeEx has set
 * _PyRuntime.ceval.pending.finishing (offsetof from the 3.8 headers; the
 * same in every 3.8.x).  3.9+ dropped that branch. */
#define PY38_PENDING_FINISHING 600

/* PA_OK when the interpreter is initialised and not shutting down, so
 * that the route may be used; PA_EXITED when it is shutting down; RETRY
 * while it is still starting or when 3.8's flag looks wrong. */
static int check_alive(const ctx *c, pk_thread *th, enum route rt, uint64_t trap)
{
    uint64_t fin = 0;
    const uint64_t none[6] = {0};
    if (c->t->is_finalizing) {
        int rc = pk_thread_call(th, c->t->is_finalizing, none, trap, &fin);
        if (rc != PK_OK)
            return thread_status(c, th, rc);
    }
    if (rt == R_PENDING && c->t->major == 3 && c->t->minor == 8) {
        int32_t finishing = -1;
        if (!c->t->runtime ||
            pk_mem_read(th, c->t->runtime + PY38_PENDING_FINISHING, &finishing, 4) != PK_OK ||
            (finishing != 0 && finishing != 1))
            return RETRY; /* unknown layout: only the thread route is safe */
        fin |= (uint64_t)finishing;
    }
    if ((int32_t)fin != 0) {
        snprintf(c->err, c->errlen, "pid %d: Python is shutting down", (int)c->t->pid);
        return PA_EXITED;
    }
    /* Not finalizing, and before Py_Initialize has finished (it is 0 again
     * once finalizing): neither a new thread's PyGILState_Ensure nor
     * Py_AddPendingCall has a runtime to work on yet.  Wait for it (a plain
     * read, as the one above). */
    uint64_t init = 1;
    if (c->t->is_initialized) {
        int rc = pk_thread_call(th, c->t->is_initialized, none, trap, &init);
        if (rc != PK_OK)
            return thread_status(c, th, rc);
    }
    if ((int32_t)init == 0) {
        saw_starting = 1;
        return RETRY;
    }
    return PA_OK;
}

/* Starts the helper thread, or queues the pending call. */
static int hand_over(const ctx *c, pk_thread *th, enum route rt, uint64_t *req)
{
    uint64_t base = 0, len = 0;
    int rc = map_request(c, th, &base, &len);
    if (rc != PA_OK)
        return rc;
    *req = base + PAGE;
    rc = check_alive(c, th, rt, *req + REQ_TRAP);
    if (rc != PA_OK) {
        remote_unmap(c, th, base, len);
        return rc;
    }
    uint64_t fn = rt == R_THREAD ? c->t->start_new_thread : c->t->add_pending_call;
    const uint64_t a[6] = {base, *req, 0, 0, 0, 0};
    uint64_t ret = 0;
    int prc = pk_thread_call(th, fn, a, *req + REQ_TRAP, &ret);
    if (prc != PK_OK) {
        /* An abandoned call may already have queued or started the thunk:
         * leave the mapping, it frees itself if it ever runs. */
        int s = thread_status(c, th, prc);
        return s == RETRY ? PA_FAILED : s;
    }
    int ok = rt == R_THREAD ? ret != (uint64_t)-1 : (int32_t)ret == 0;
    if (!ok) {
        remote_unmap(c, th, base, len);
        snprintf(c->err, c->errlen, "pid %d: %s failed in the target%s", (int)c->t->pid,
                 rt == R_THREAD ? "PyThread_start_new_thread" : "Py_AddPendingCall",
                 rt == R_THREAD ? " (out of memory or threads?)"
                                : " (pending-call queue full, or the interpreter is exiting)");
        return PA_FAILED;
    }
    return PA_OK;
}

/* --- waiting for the code to run ------------------------------------- */

/* 0 and the state; 1 when the request is gone (the thunk has finished
 * and unmapped it, maybe something else is mapped there now); -1. */
static int read_state(pid_t pid, uint64_t req, int32_t *state)
{
    uint64_t head[2];
    struct iovec local = {head, sizeof head};
    struct iovec remote = {(void *)(uintptr_t)req, sizeof head};
    ssize_t k = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (k == (ssize_t)sizeof head) {
        if (head[0] != REQ_MAGIC)
            return 1;
        memcpy(state, (char *)head + REQ_STATE, sizeof *state);
        return 0;
    }
    return k < 0 && errno == EFAULT ? 1 : -1;
}

static void pause_us(long us)
{
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
}

/* Withdraws a pending call that has not started, stopping the main thread
 * (the only one that runs pending calls) so that the check is exact.
 * Returns the state found: ST_QUEUED means it is now cancelled; -1 when
 * it could not be checked. */
static int cancel_pending(const ctx *c, uint64_t req)
{
    pk_thread th;
    int rc = pk_thread_seize(&th, c->t->pid, c->t->pid, pk_now_ns() + 500000000LL);
    int32_t st = -1;
    if (rc == PK_OK && pk_mem_read(&th, req + REQ_STATE, &st, sizeof st) != PK_OK)
        st = ST_DONE; /* unmapped: the thunk has finished */
    if (st == ST_QUEUED) {
        int32_t cancelled = ST_CANCELLED;
        if (pk_mem_write(&th, req + REQ_STATE, &cancelled, sizeof cancelled) != PK_OK)
            st = -1;
    }
    pk_thread_release(&th);
    pk_threads_settle(&th, 1, pk_now_ns() + PK_SETTLE_NS);
    return st;
}

static int deadline_pending(const ctx *c, uint64_t req)
{
    int st = cancel_pending(c, req);
    if (st == ST_QUEUED) {
        snprintf(c->err, c->errlen,
                 "pid %d: the main thread did not reach a safe point in time (blocked in C "
                 "code?); the code was not run", (int)c->t->pid);
        return PA_TIMEOUT;
    }
    if (st == ST_RUNNING || st == ST_DONE) {
        snprintf(c->err, c->errlen, "pid %d: the code was still running at the deadline",
                 (int)c->t->pid);
        return PA_OK;
    }
    snprintf(c->err, c->errlen, "pid %d: lost track of the queued code at the deadline; it "
             "may still run", (int)c->t->pid);
    return process_gone(c->t->pid) ? PA_EXITED : PA_TIMEOUT;
}

/* The main thread went to sleep with our pending call queued: it will not
 * run it before waking up.  1 when it has been resting for a while. */
static int main_resting(const ctx *c, int *streak)
{
    pk_sysinfo si;
    if (pk_task_syscall(c->t->pid, c->t->pid, &si) != 0 || si.running ||
        pk_rest_score(c->t->pid, si.nr, si.args) == 0) {
        *streak = 0;
        return 0;
    }
    return ++*streak >= MAIN_REST_POLLS;
}

static int wait_done(const ctx *c, enum route rt, uint64_t req)
{
    long us = 50;
    int streak = 0;
    for (;;) {
        int32_t st = -1;
        int r = read_state(c->t->pid, req, &st);
        if (r == 1 || (r == 0 && st == ST_DONE))
            return PA_OK;
        if (r < 0 || process_gone(c->t->pid)) {
            snprintf(c->err, c->errlen, "pid %d exited before the code finished",
                     (int)c->t->pid);
            return PA_EXITED;
        }
        if (pk_now_ns() >= c->deadline) {
            if (rt == R_PENDING)
                return deadline_pending(c, req);
            snprintf(c->err, c->errlen, "pid %d: the code was handed to a helper thread that "
                     "had not finished it at the deadline", (int)c->t->pid);
            return PA_OK;
        }
        if (rt == R_PENDING && st == ST_QUEUED && main_resting(c, &streak)) {
            int cs = cancel_pending(c, req);
            if (cs == ST_QUEUED)
                return RETRY; /* withdrawn: try again, now as a resting thread */
            streak = 0;
        }
        pause_us(us);
        if (us < 1000)
            us *= 2;
    }
}

/* --- the driver -------------------------------------------------------- */

static int try_thread(const ctx *c, pid_t tid)
{
    pk_thread th;
    int rc = pk_thread_seize(&th, c->t->pid, tid, c->deadline);
    int s = thread_status(c, &th, rc);
    enum route rt = R_NONE;
    uint64_t req = 0;
    if (s == PA_OK) {
        rt = stopped_route(c, &th);
        s = rt == R_NONE ? RETRY : hand_over(c, &th, rt, &req);
    }
    int gone = pk_thread_release(&th) != PK_OK;
    pk_threads_settle(&th, 1, pk_now_ns() + PK_SETTLE_NS);
    if (gone && s == PA_OK && process_gone(c->t->pid)) {
        snprintf(c->err, c->errlen, "pid %d exited during the attach", (int)c->t->pid);
        return PA_EXITED;
    }
    if (s != PA_OK)
        return s;
    last_route = rt == R_THREAD ? "thread" : "pending";
    return wait_done(c, rt, req);
}

static int timeout_message(const ctx *c, int timeout_ms)
{
    if (saw_starting) {
        snprintf(c->err, c->errlen, "pid %d: Python was still starting (not initialised) after "
                 "%d ms; nothing was run", (int)c->t->pid, timeout_ms);
        return PA_TIMEOUT;
    }
    snprintf(c->err, c->errlen,
             "pid %d: no thread reached a safe point within %d ms (none resting in a "
             "syscall, main thread not running Python); nothing was run", (int)c->t->pid,
             timeout_ms);
    return PA_TIMEOUT;
}

static int one_round(const ctx *c)
{
    cand *cs;
    size_t n;
    int rc = list_candidates(c->t->pid, &cs, &n);
    if (rc != 0) {
        snprintf(c->err, c->errlen, "pid %d exited during the attach", (int)c->t->pid);
        return process_gone(c->t->pid) ? PA_EXITED : RETRY;
    }
    int s = RETRY;
    for (size_t i = 0; i < n && s == RETRY && pk_now_ns() < c->deadline; i++)
        s = try_thread(c, cs[i].tid);
    free(cs);
    return s;
}

int peeka_inject_python(const peeka_target *t, const char *code, int timeout_ms, char *err,
                        size_t errlen)
{
    static char dummy[1];
    if (!err || !errlen)
        err = dummy, errlen = sizeof dummy;
    err[0] = '\0';
    if (!t || !code || timeout_ms <= 0 || strlen(code) > PK_CODE_MAX || !t->syscall_insn) {
        snprintf(err, errlen, "peeka_inject_python: bad arguments (inspected target, code "
                 "up to %u bytes, positive timeout)", PK_CODE_MAX);
        return PA_FAILED;
    }
    ctx c = {t, NULL, 0, pk_now_ns() + (int64_t)timeout_ms * 1000000LL, err, errlen};
    int s = precheck(&c);
    if (s != PA_OK)
        return s;
    char *wrapped = pk_wrap_code(code);
    if (!wrapped) {
        snprintf(err, errlen, "out of memory");
        return PA_FAILED;
    }
    c.wrapped = wrapped;
    c.wrapped_len = strlen(wrapped);
    saw_starting = 0;
    for (s = RETRY; s == RETRY;) {
        if (pk_now_ns() >= c.deadline) {
            s = timeout_message(&c, timeout_ms);
            break;
        }
        if ((s = one_round(&c)) == RETRY)
            pause_us(1000);
        if (s == RETRY && (s = precheck(&c)) == PA_OK)
            s = RETRY;
    }
    free(wrapped);
    return s;
}

int pk_queue_pending(const peeka_target *t, pk_thread *th, const char *code, char *err,
                     size_t errlen)
{
    if (!t->syscall_insn || strlen(code) > PK_CODE_MAX) {
        snprintf(err, errlen, "pk_queue_pending: bad arguments");
        return PA_FAILED;
    }
    char *wrapped = pk_wrap_code(code);
    if (!wrapped) {
        snprintf(err, errlen, "out of memory");
        return PA_FAILED;
    }
    ctx c = {t, wrapped, strlen(wrapped), th->deadline, err, errlen};
    uint64_t req = 0;
    int s = hand_over(&c, th, R_PENDING, &req);
    free(wrapped);
    if (s == PA_OK)
        last_route = "pending";
    if (s == RETRY)
        snprintf(err, errlen, "pid %d: its pending-call state is not as expected; nothing "
                 "was queued", (int)t->pid);
    return s == RETRY ? PA_FAILED : s;
}

/* --- the wrapper ------------------------------------------------------ */

char *pk_wrap_code(const char *code)
{
    static const char head[] =
        "try:\n    exec(compile(b'";
    static const char tail[] =
        "', '<peeka-inject>', 'exec'), __import__('__main__').__dict__)\n"
        "except:\n"
        "    try:\n"
        "        if __import__('sys').exc_info()[0] is KeyboardInterrupt:\n"
        "            __import__('_thread').interrupt_main()\n"
        "    except:\n"
        "        pass\n";
    size_t n = strlen(code);
    char *out = malloc(sizeof head + n * 4 + sizeof tail);
    if (!out)
        return NULL;
    char *p = out + (sizeof head - 1);
    memcpy(out, head, sizeof head - 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)code[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '\\' && ch != '\'')
            *p++ = (char)ch;
        else
            p += sprintf(p, "\\x%02x", ch);
    }
    memcpy(p, tail, sizeof tail);
    return out;
}
