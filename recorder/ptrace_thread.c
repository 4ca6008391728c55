#include "ptrace_thread.h"
#include "proc_maps.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define XSAVE_MAX   16384
#define RED_ZONE    128
#define EFLAGS_TF   0x100ULL
#define EFLAGS_DF   0x400ULL
#define MXCSR_INIT  0x1f80u
#define FCW_INIT    0x037fu
/* How long we wait for a thread we interrupted after the deadline. */
#define GRACE_NS    (200 * 1000000LL)
#define SETTLE_RUN_NS (1000000LL)   /* a restarted call needs microseconds */

int64_t pk_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int fail(pk_thread *th, int code, const char *what)
{
    snprintf(th->err, sizeof th->err, "%s (thread %d): %s", what, (int)th->tid,
             strerror(errno));
    return code;
}

static void stash_signal(pk_thread *th, int sig)
{
    for (int i = 0; i < th->nsigs; i++)
        if (th->sigs[i] == sig && sig < SIGRTMIN)
            return; /* standard signals do not queue: one is enough */
    if (th->nsigs < PK_MAX_STASHED_SIGS)
        th->sigs[th->nsigs++] = sig;
}

/* Waits for the next ptrace stop of the thread, until `deadline`. */
static int wait_stop(pk_thread *th, int *status, int64_t deadline)
{
    long delay = 20000;
    for (;;) {
        pid_t r = waitpid(th->tid, status, WNOHANG | __WALL);
        if (r == th->tid) {
            if (WIFEXITED(*status) || WIFSIGNALED(*status)) {
                th->seized = 0;
                return PK_GONE;
            }
            return PK_OK;
        }
        if (r < 0 && errno != EINTR) {
            if (errno == ECHILD) {
                th->seized = 0;
                return PK_GONE;
            }
            return fail(th, PK_FAIL, "waitpid");
        }
        if (pk_now_ns() >= deadline)
            return PK_TIMEOUT;
        struct timespec ts = {0, delay};
        nanosleep(&ts, NULL);
        if (delay < 1000000)
            delay *= 2;
    }
}

static int is_group_stop(int status)
{
    if ((status >> 16) != PTRACE_EVENT_STOP)
        return 0;
    int s = WSTOPSIG(status);
    return s == SIGSTOP || s == SIGTSTP || s == SIGTTIN || s == SIGTTOU;
}

/* A signal the kernel raised because of the instruction just executed. */
static int is_fault(pk_thread *th, int sig)
{
    if (sig != SIGSEGV && sig != SIGBUS && sig != SIGILL && sig != SIGFPE && sig != SIGTRAP &&
        sig != SIGSYS)
        return 0;
    siginfo_t si;
    if (ptrace(PTRACE_GETSIGINFO, th->tid, 0, &si) != 0)
        return 0;
    return si.si_code > 0;
}

static int save_fp(pk_thread *th)
{
    th->xsave = calloc(1, XSAVE_MAX);
    if (!th->xsave)
        return fail(th, PK_FAIL, "allocating the FP save area");
    struct iovec iov = {th->xsave, XSAVE_MAX};
    if (ptrace(PTRACE_GETREGSET, th->tid, (void *)NT_X86_XSTATE, &iov) == 0) {
        th->xsave_len = iov.iov_len;
        return PK_OK;
    }
    /* No XSAVE: the legacy 512-byte FXSAVE image. */
    iov.iov_len = sizeof(struct user_fpregs_struct);
    if (ptrace(PTRACE_GETREGSET, th->tid, (void *)NT_PRFPREG, &iov) != 0)
        return fail(th, errno == ESRCH ? PK_GONE : PK_FAIL, "saving FP registers");
    th->xsave_len = iov.iov_len;
    return PK_OK;
}

static int set_fp(pk_thread *th, const uint8_t *img)
{
    struct iovec iov = {(void *)img, th->xsave_len};
    long kind = th->xsave_len > sizeof(struct user_fpregs_struct) ? NT_X86_XSTATE : NT_PRFPREG;
    if (ptrace(PTRACE_SETREGSET, th->tid, (void *)kind, &iov) != 0)
        return fail(th, errno == ESRCH ? PK_GONE : PK_FAIL, "setting FP registers");
    return PK_OK;
}

/* The saved FP image with x87 and SSE control reset to what the ABI
 * promises a called function: round-to-nearest, all exceptions masked,
 * empty x87 stack. */
static int set_clean_fp(pk_thread *th)
{
    uint8_t *img = malloc(th->xsave_len);
    if (!img)
        return fail(th, PK_FAIL, "allocating an FP image");
    memcpy(img, th->xsave, th->xsave_len);
    uint16_t fcw = FCW_INIT, zero16 = 0;
    uint32_t mxcsr = MXCSR_INIT;
    memcpy(img + 0, &fcw, 2);     /* FCW */
    memcpy(img + 2, &zero16, 2);  /* FSW */
    img[4] = 0;                   /* abridged FTW: all empty */
    memcpy(img + 24, &mxcsr, 4);  /* MXCSR */
    int rc = set_fp(th, img);
    free(img);
    return rc;
}

static int set_regs(pk_thread *th, const struct user_regs_struct *r)
{
    if (ptrace(PTRACE_SETREGS, th->tid, 0, r) != 0)
        return fail(th, errno == ESRCH ? PK_GONE : PK_FAIL, "setting registers");
    th->modified = 1;
    return PK_OK;
}

static int get_regs(pk_thread *th, struct user_regs_struct *r)
{
    if (ptrace(PTRACE_GETREGS, th->tid, 0, r) != 0)
        return fail(th, errno == ESRCH ? PK_GONE : PK_FAIL, "reading registers");
    return PK_OK;
}

static int resume(pk_thread *th, int request)
{
    if (ptrace(request, th->tid, 0, 0) != 0)
        return fail(th, errno == ESRCH ? PK_GONE : PK_FAIL, "resuming");
    return PK_OK;
}

static int open_mem(pk_thread *th)
{
    char fn[64];
    snprintf(fn, sizeof fn, "/proc/%d/mem", (int)th->pid);
    th->memfd = open(fn, O_RDWR | O_CLOEXEC);
    if (th->memfd < 0)
        return fail(th, errno == ENOENT || errno == ESRCH ? PK_GONE : PK_PERM,
                    "opening /proc/PID/mem");
    return PK_OK;
}

static int seize_error(pk_thread *th)
{
    if (errno == ESRCH)
        return PK_GONE;
    int e = errno;
    snprintf(th->err, sizeof th->err, "ptrace(PTRACE_SEIZE, %d): %s", (int)th->tid,
             strerror(e));
    return e == EPERM || e == EACCES ? PK_PERM : PK_FAIL;
}

/* After PTRACE_INTERRUPT: waits for the interrupt stop, keeping any
 * signal that is reported first. */
static int wait_interrupt_stop(pk_thread *th)
{
    for (;;) {
        int st, rc = wait_stop(th, &st, th->deadline + GRACE_NS);
        if (rc == PK_TIMEOUT)
            snprintf(th->err, sizeof th->err, "no interrupt stop before the deadline: a busy "
                     "machine?");
        if (rc != PK_OK)
            return rc;
        if (is_group_stop(st)) {
            th->group_stop = 1;
            return PK_STOPPED;
        }
        if ((st >> 16) == PTRACE_EVENT_STOP)
            return PK_OK;
        if ((st >> 16) == 0)
            stash_signal(th, WSTOPSIG(st));
        if ((rc = resume(th, PTRACE_CONT)) != PK_OK)
            return rc;
    }
}

int pk_thread_seize(pk_thread *th, pid_t pid, pid_t tid, int64_t deadline)
{
    memset(th, 0, sizeof *th);
    th->pid = pid;
    th->tid = tid;
    th->memfd = -1;
    th->deadline = deadline;
    if (ptrace(PTRACE_SEIZE, tid, 0, 0) != 0)
        return seize_error(th);
    th->seized = 1;
    int rc = open_mem(th);
    if (rc == PK_OK && ptrace(PTRACE_INTERRUPT, tid, 0, 0) != 0)
        rc = fail(th, errno == ESRCH ? PK_GONE : PK_FAIL, "PTRACE_INTERRUPT");
    if (rc == PK_OK)
        rc = wait_interrupt_stop(th);
    if (rc == PK_OK)
        rc = get_regs(th, &th->saved);
    if (rc == PK_OK) {
        th->in_syscall = (long)th->saved.orig_rax >= 0;
        th->cpu_ns = pk_task_cpu_ns(pid, tid);
        rc = save_fp(th);
    }
    return rc;
}

/* Let go of and back in a system call (or gone), or running for real:
 * more CPU than restarting the call takes. */
static int settled(const pk_thread *th)
{
    pk_sysinfo si;
    if (!th->in_syscall || th->group_stop || pk_task_syscall(th->pid, th->tid, &si) != 0)
        return 1;
    if (!si.running && si.nr >= 0)
        return 1;
    int64_t now = pk_task_cpu_ns(th->pid, th->tid);
    return th->cpu_ns >= 0 && now > th->cpu_ns + SETTLE_RUN_NS;
}

void pk_threads_settle(const pk_thread *th, size_t n, int64_t deadline)
{
    size_t done = 0;   /* th[0..done) have settled */
    while (done < n) {
        if (settled(&th[done])) {
            done++;
            continue;
        }
        if (pk_now_ns() >= deadline)
            return;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

int pk_thread_adopt(pk_thread *th, pid_t pid, pid_t tid, int64_t deadline)
{
    memset(th, 0, sizeof *th);
    th->pid = pid;
    th->tid = tid;
    th->memfd = -1;
    th->deadline = deadline;
    th->seized = 1;
    int rc = open_mem(th);
    if (rc == PK_OK)
        rc = get_regs(th, &th->saved);
    if (rc == PK_OK)
        rc = save_fp(th);
    return rc;
}

/* Stops a thread that is running our code after the deadline, so that it
 * can be put back; bounded by GRACE_NS. */
static int interrupt_now(pk_thread *th)
{
    if (ptrace(PTRACE_INTERRUPT, th->tid, 0, 0) != 0)
        return errno == ESRCH ? PK_GONE : PK_FAIL;
    int64_t saved_deadline = th->deadline;
    th->deadline = pk_now_ns();
    int rc = wait_interrupt_stop(th);
    th->deadline = saved_deadline;
    return rc;
}

/* PTRACE_DETACH needs a stopped tracee: a thread still running (the
 * interrupt stop was not seen in time) is stopped first. */
static int detach(pk_thread *th)
{
    if (ptrace(PTRACE_DETACH, th->tid, 0, 0) == 0)
        return PK_OK;
    if (errno != ESRCH || syscall(SYS_tgkill, th->pid, th->tid, 0) != 0)
        return PK_GONE;
    if (ptrace(PTRACE_INTERRUPT, th->tid, 0, 0) != 0)
        return PK_GONE;
    int st;
    for (int tries = 0; tries < 16; tries++) {
        int rc = wait_stop(th, &st, pk_now_ns() + GRACE_NS);
        if (rc == PK_GONE)
            return PK_GONE;
        if (rc == PK_OK && (st >> 16) == 0 && !is_fault(th, WSTOPSIG(st)))
            syscall(SYS_tgkill, th->pid, th->tid, WSTOPSIG(st)); /* keep it */
        if (ptrace(PTRACE_DETACH, th->tid, 0, 0) == 0)
            return PK_OK;
    }
    return PK_GONE;
}

int pk_thread_release(pk_thread *th)
{
    int rc = PK_OK;
    if (th->seized) {
        if (th->modified && th->xsave) {
            if (set_regs(th, &th->saved) != PK_OK || set_fp(th, th->xsave) != PK_OK)
                rc = PK_GONE;
            th->modified = 0;
        }
        for (int i = 0; i < th->nsigs; i++)
            syscall(SYS_tgkill, th->pid, th->tid, th->sigs[i]);
        if (th->group_stop)
            syscall(SYS_tgkill, th->pid, th->tid, SIGSTOP);
        if (detach(th) != PK_OK)
            rc = PK_GONE;
        th->seized = 0;
    }
    if (th->memfd >= 0)
        close(th->memfd);
    th->memfd = -1;
    free(th->xsave);
    th->xsave = NULL;
    return rc;
}

int pk_thread_put_back(pk_thread *th)
{
    int rc = PK_OK;
    if (th->seized && th->modified && th->xsave &&
        (set_regs(th, &th->saved) != PK_OK || set_fp(th, th->xsave) != PK_OK))
        rc = PK_GONE;
    th->modified = 0;
    for (int i = 0; i < th->nsigs; i++)
        syscall(SYS_tgkill, th->pid, th->tid, th->sigs[i]);
    th->nsigs = 0;
    th->seized = 0;   /* still traced, but no longer ours to detach */
    if (th->memfd >= 0)
        close(th->memfd);
    th->memfd = -1;
    free(th->xsave);
    th->xsave = NULL;
    return rc;
}

/* Handles a stop that is not the one we wait for: keeps asynchronous
 * signals, notes group-stops.  Returns PK_OK to go on waiting. */
static int side_stop(pk_thread *th, int st, int request)
{
    if (is_group_stop(st))
        th->group_stop = 1;
    else if ((st >> 16) == 0)
        stash_signal(th, WSTOPSIG(st));
    return resume(th, request);
}

int pk_thread_syscall(pk_thread *th, uint64_t insn, long nr, const uint64_t a[6], int64_t *ret)
{
    struct user_regs_struct r = th->saved;
    r.rax = (uint64_t)nr;
    r.rdi = a[0], r.rsi = a[1], r.rdx = a[2], r.r10 = a[3], r.r8 = a[4], r.r9 = a[5];
    r.rip = insn;
    r.orig_rax = (uint64_t)-1; /* not in a syscall: no restart at the wrong place */
    r.eflags &= ~(EFLAGS_TF | EFLAGS_DF);
    int rc = set_regs(th, &r);
    if (rc == PK_OK)
        rc = resume(th, PTRACE_SINGLESTEP);
    while (rc == PK_OK) {
        int st;
        rc = wait_stop(th, &st, th->deadline);
        if (rc == PK_TIMEOUT) /* a syscall we chose never blocks: be patient */
            rc = wait_stop(th, &st, th->deadline + GRACE_NS);
        if (rc != PK_OK)
            break;
        int sig = (st >> 16) == 0 ? WSTOPSIG(st) : 0;
        if (sig == SIGSYS && is_fault(th, sig)) { /* seccomp SECCOMP_RET_TRAP */
            *ret = -EPERM;
            return PK_OK; /* the SIGSYS is ours: it is dropped on release */
        }
        if (sig == SIGTRAP) {
            if ((rc = get_regs(th, &r)) != PK_OK)
                break;
            if (r.rip == insn + 2) {
                *ret = (int64_t)r.rax;
                return PK_OK;
            }
            rc = resume(th, PTRACE_SINGLESTEP); /* stopped before the step */
            continue;
        }
        rc = side_stop(th, st, PTRACE_SINGLESTEP);
    }
    return rc;
}

static int call_stopped(pk_thread *th, int st, uint64_t trap, uint64_t *ret, int *done)
{
    int sig = (st >> 16) == 0 ? WSTOPSIG(st) : 0;
    *done = 0;
    if (sig && is_fault(th, sig)) {
        struct user_regs_struct r;
        int rc = get_regs(th, &r);
        if (rc != PK_OK)
            return rc;
        if (sig == SIGSEGV && r.rip == trap) {
            *ret = r.rax;
            *done = 1;
            return PK_OK;
        }
        snprintf(th->err, sizeof th->err,
                 "the injected call faulted: signal %d at %#llx (thread %d); call abandoned",
                 sig, (unsigned long long)r.rip, (int)th->tid);
        return PK_FAULT;
    }
    return side_stop(th, st, PTRACE_CONT);
}

int pk_thread_call(pk_thread *th, uint64_t fn, const uint64_t a[6], uint64_t trap,
                   uint64_t *ret)
{
    struct user_regs_struct r = th->saved;
    /* Below the red zone, 16-byte aligned, then the return address: at
     * entry rsp % 16 == 8 as after a real `call`. */
    uint64_t sp = ((th->saved.rsp - RED_ZONE - 128) & ~(uint64_t)0xf) - 8;
    int rc = pk_mem_write(th, sp, &trap, sizeof trap);
    if (rc != PK_OK)
        return rc;
    r.rsp = sp;
    r.rip = fn;
    r.rdi = a[0], r.rsi = a[1], r.rdx = a[2], r.rcx = a[3], r.r8 = a[4], r.r9 = a[5];
    r.rax = 0; /* no vector registers used by a variadic callee */
    r.orig_rax = (uint64_t)-1;
    r.eflags &= ~(EFLAGS_TF | EFLAGS_DF);
    if ((rc = set_regs(th, &r)) == PK_OK && (rc = set_clean_fp(th)) == PK_OK)
        rc = resume(th, PTRACE_CONT);
    while (rc == PK_OK) {
        int st, done;
        rc = wait_stop(th, &st, th->deadline);
        if (rc == PK_TIMEOUT) {
            snprintf(th->err, sizeof th->err,
                     "the injected call did not return before the deadline (thread %d); "
                     "abandoned", (int)th->tid);
            int irc = interrupt_now(th);
            return irc == PK_GONE ? PK_GONE : PK_TIMEOUT;
        }
        if (rc != PK_OK)
            break;
        rc = call_stopped(th, st, trap, ret, &done);
        if (rc == PK_OK && done)
            return PK_OK;
    }
    return rc;
}

int pk_mem_read(const pk_thread *th, uint64_t addr, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t k = pread(th->memfd, (char *)buf + got, len - got, (off_t)(addr + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return PK_FAIL;
        got += (size_t)k;
    }
    return PK_OK;
}

int pk_mem_write(const pk_thread *th, uint64_t addr, const void *buf, size_t len)
{
    size_t put = 0;
    while (put < len) {
        ssize_t k = pwrite(th->memfd, (const char *)buf + put, len - put, (off_t)(addr + put));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return PK_FAIL;
        put += (size_t)k;
    }
    return PK_OK;
}
