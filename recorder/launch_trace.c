#include "launch_trace.h"
#include "inject.h"
#include "signals.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define INT3 0xcc
#define WAIT_SLICE_NS (100 * 1000000LL)
#define GRACE_NS (500 * 1000000LL)
/* Where Py_IsInitialized() "returns" to: page 0, never mapped
 * (vm.mmap_min_addr), so the return faults and ends the call. */
#define CALL_TRAP 0
/* on_stop(): keep tracing */
#define GO_ON (-1)

/* The signals peeka-rec passes on, and SIGCHLD, are blocked while we trace:
 * next_event() takes them with sigtimedwait, so that the child is never
 * signalled after it was reaped.  (sigprocmask fails only on bad
 * arguments.) */
static void block_signals(sigset_t *old)
{
    sigset_t set;
    signals_set(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, old);
}

static void restore_signals(const ltrace *L, const sigset_t *old)
{
    if (L->exited)
        signals_forward_to(0);
    sigprocmask(SIG_SETMASK, old, NULL);
}

void ltrace_init(ltrace *L)
{
    memset(L, 0, sizeof *L);
    L->memfd = -1;
    L->th.memfd = -1;
}

int ltrace_seize(ltrace *L, pid_t child, char *err, size_t errlen)
{
    ltrace_init(L);
    long opts = PTRACE_O_TRACEEXEC | PTRACE_O_TRACECLONE;
    if (ptrace(PTRACE_SEIZE, child, 0, (void *)opts) != 0) {
        snprintf(err, errlen, "ptrace(PTRACE_SEIZE) of the program refused: %s", strerror(errno));
        return -1;
    }
    L->pid = child;
    return 0;
}

/* The next stop of the child (1), its exit (0, L->status), the deadline
 * (-1), or an error (-2); signals for the child are passed on meanwhile. */
static int next_event(ltrace *L, int *st)
{
    sigset_t set;
    signals_set(&set);
    sigaddset(&set, SIGCHLD);
    for (;;) {
        pid_t r = waitpid(L->pid, st, WNOHANG | __WALL);
        if (r == L->pid) {
            if (!WIFEXITED(*st) && !WIFSIGNALED(*st)) {
                L->stopped = 1;
                return 1;
            }
            L->exited = 1;
            L->status = *st;
            return 0;
        }
        if (r < 0 && errno != EINTR)
            return -2;
        int64_t left = L->deadline - pk_now_ns();
        if (left <= 0)
            return -1;
        struct timespec ts = {0, (long)(left < WAIT_SLICE_NS ? left : WAIT_SLICE_NS)};
        siginfo_t si;
        int sig = sigtimedwait(&set, &si, &ts);
        if (sig > 0 && sig != SIGCHLD)
            signals_take(sig, &si);
    }
}

static int resume(ltrace *L, int request, long sig)
{
    if (ptrace(request, L->pid, 0, (void *)sig) != 0)
        return -1;
    L->stopped = 0;
    return 0;
}

static int mem_byte(const ltrace *L, int write, uint64_t addr, uint8_t *b)
{
    ssize_t k = write ? pwrite(L->memfd, b, 1, (off_t)addr) : pread(L->memfd, b, 1, (off_t)addr);
    return k == 1 ? 0 : -1;
}

static int bp_set(ltrace *L, uint64_t addr)
{
    uint8_t orig, cc = INT3;
    if (mem_byte(L, 0, addr, &orig) < 0 || mem_byte(L, 1, addr, &cc) < 0)
        return -1;
    L->bp = addr;
    L->bp_orig = orig;
    return 0;
}

static int bp_clear(ltrace *L)
{
    if (!L->bp)
        return 0;
    int rc = mem_byte(L, 1, L->bp, &L->bp_orig);
    L->bp = 0;
    return rc;
}

static int failed(ltrace *L, char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "following the program (pid %d) to its first line: %s: %s",
             (int)L->pid, what, strerror(errno));
    return PA_FAILED;
}

static uint64_t entry_point(pid_t pid)
{
    char fn[64];
    snprintf(fn, sizeof fn, "/proc/%d/auxv", (int)pid);
    int fd = open(fn, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    Elf64_auxv_t a;
    uint64_t entry = 0;
    while (!entry && read(fd, &a, sizeof a) == (ssize_t)sizeof a && a.a_type != AT_NULL)
        if (a.a_type == AT_ENTRY)
            entry = a.a_un.a_val;
    close(fd);
    return entry;
}

/* A new image (the program, or what a wrapper execs): stop it at its
 * entry point, where every library it needs is mapped and relocated. */
static int on_exec(ltrace *L, char *err, size_t errlen)
{
    char fn[64];
    if (L->memfd >= 0)
        close(L->memfd);
    L->bp = 0;   /* went with the old image */
    snprintf(fn, sizeof fn, "/proc/%d/mem", (int)L->pid);
    if ((L->memfd = open(fn, O_RDWR | O_CLOEXEC)) < 0)
        return failed(L, err, errlen, "opening /proc/PID/mem");
    if (!(L->entry = entry_point(L->pid)))
        return failed(L, err, errlen, "no entry point in /proc/PID/auxv");
    return bp_set(L, L->entry) < 0 ? failed(L, err, errlen, "setting a breakpoint") : GO_ON;
}

/* At the entry point: is it CPython?  Then wait for its first frame. */
static int on_entry(ltrace *L, char *err, size_t errlen)
{
    struct user_regs_struct r;
    if (ptrace(PTRACE_GETREGS, L->pid, 0, &r) != 0 || bp_clear(L) < 0)
        return failed(L, err, errlen, "at the entry point");
    r.rip = L->entry;
    if (ptrace(PTRACE_SETREGS, L->pid, 0, &r) != 0)
        return failed(L, err, errlen, "at the entry point");
    int rc = peeka_target_inspect(L->pid, &L->t, err, errlen);
    if (rc == PA_NOTPYTHON)
        return GO_ON;   /* a wrapper may exec Python yet; err says what it is */
    if (rc != PA_OK)
        return rc;
    if (!L->t.eval_frame || !L->t.is_initialized) {
        snprintf(err, errlen, "%s exports no _PyEval_EvalFrameDefault or Py_IsInitialized",
                 L->t.python_image);
        return PA_NOTPYTHON;
    }
    return bp_set(L, L->t.eval_frame) < 0 ? failed(L, err, errlen, "setting a breakpoint") : GO_ON;
}

/* Runs the instruction under our int3 with its own byte back, then puts
 * the int3 back.  A signal that comes first is delivered: its handler runs
 * first, and meets the int3 again when it returns. */
static int step_over(ltrace *L, char *err, size_t errlen)
{
    if (mem_byte(L, 1, L->bp, &L->bp_orig) < 0)
        return failed(L, err, errlen, "stepping over the breakpoint");
    long sig = 0;
    for (;;) {
        if (resume(L, PTRACE_SINGLESTEP, sig) < 0)
            return failed(L, err, errlen, "PTRACE_SINGLESTEP");
        int st, e = next_event(L, &st);
        if (e == 0)
            return PA_EXITED;
        if (e < 0)
            return e == -1 ? PA_TIMEOUT : failed(L, err, errlen, "waitpid");
        if ((st >> 16) != 0) {
            snprintf(err, errlen, "the program (pid %d) was stopped while it started",
                     (int)L->pid);
            return PA_STOPPED;
        }
        if (WSTOPSIG(st) == SIGTRAP)
            break;
        sig = WSTOPSIG(st);
    }
    uint8_t cc = INT3;
    return mem_byte(L, 1, L->bp, &cc) < 0 ? failed(L, err, errlen, "restoring the breakpoint")
                                          : GO_ON;
}

/* A Python frame is about to run: hold the thread there once the
 * interpreter is initialised, else step on to the next frame. */
static int on_frame(ltrace *L, char *err, size_t errlen)
{
    static const uint64_t none[6];
    pk_thread *th = &L->th;
    uint64_t init = 0;
    int rc = pk_thread_adopt(th, L->pid, L->pid, L->deadline);
    if (rc == PK_OK) {
        th->saved.rip = L->bp;   /* back onto the int3's instruction */
        th->modified = 1;
        rc = pk_thread_call(th, L->t.is_initialized, none, CALL_TRAP, &init);
    }
    if (rc == PK_OK && (int)init) {
        L->held = 1;
        return bp_clear(L) < 0 ? failed(L, err, errlen, "removing the breakpoint") : PA_OK;
    }
    int back = pk_thread_put_back(th);
    if (rc == PK_GONE || back == PK_GONE) {
        L->exited = 1;   /* reaped by pk_thread's wait: its status is lost */
        L->status = -1;
    }
    if (rc != PK_OK || back != PK_OK) {
        snprintf(err, errlen, "calling Py_IsInitialized in the program (pid %d): %s", (int)L->pid,
                 th->err[0] ? th->err : "it went away");
        return rc == PK_GONE || back == PK_GONE ? PA_EXITED : PA_FAILED;
    }
    return step_over(L, err, errlen);
}

/* A thread before Python is initialised (from a preloaded library, say)
 * could meet our int3 untraced and die of it: remove it, let the thread go
 * and give up following the program. */
static int on_clone(ltrace *L, char *err, size_t errlen)
{
    unsigned long tid = 0;
    bp_clear(L);
    if (ptrace(PTRACE_GETEVENTMSG, L->pid, 0, &tid) == 0 && tid > 0) {
        int st;
        int64_t end = pk_now_ns() + GRACE_NS;
        while (waitpid((pid_t)tid, &st, WNOHANG | __WALL) == 0 && pk_now_ns() < end) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        if (ptrace(PTRACE_DETACH, (pid_t)tid, 0, 0) != 0 && errno != ESRCH)
            return failed(L, err, errlen, "letting a new thread go");
    }
    snprintf(err, errlen, "the program (pid %d) started a thread before Python was initialised",
             (int)L->pid);
    return PA_FAILED;
}

static int our_trap(ltrace *L)
{
    struct user_regs_struct r;
    return L->bp && ptrace(PTRACE_GETREGS, L->pid, 0, &r) == 0 && r.rip == L->bp + 1;
}

/* One stop: GO_ON with *sig to deliver when resuming, or a PA_* result. */
static int on_stop(ltrace *L, int st, long *sig, char *err, size_t errlen)
{
    int event = st >> 16, s = WSTOPSIG(st);
    *sig = 0;
    if (event == PTRACE_EVENT_EXEC)
        return on_exec(L, err, errlen);
    if (event == PTRACE_EVENT_CLONE)
        return on_clone(L, err, errlen);
    if (event == PTRACE_EVENT_STOP) {
        if (s != SIGSTOP && s != SIGTSTP && s != SIGTTIN && s != SIGTTOU)
            return GO_ON;
        snprintf(err, errlen, "the program (pid %d) was stopped (SIGSTOP) while it started",
                 (int)L->pid);
        return PA_STOPPED;   /* released in group-stop, it stays stopped */
    }
    if (event == 0 && s == SIGTRAP && our_trap(L))
        return L->bp == L->entry ? on_entry(L, err, errlen) : on_frame(L, err, errlen);
    if (event == 0)
        *sig = s;
    return GO_ON;
}

int ltrace_to_first_frame(ltrace *L, int timeout_ms, char *err, size_t errlen)
{
    sigset_t old;
    block_signals(&old);
    L->deadline = pk_now_ns() + (int64_t)timeout_ms * 1000000;
    int rc = GO_ON;
    while (rc == GO_ON) {
        int st, e = next_event(L, &st);
        long sig = 0;
        if (e == 0)
            rc = PA_EXITED;
        else if (e == -1)
            rc = PA_TIMEOUT;
        else if (e < -1)
            rc = failed(L, err, errlen, "waitpid");
        else if ((rc = on_stop(L, st, &sig, err, errlen)) == GO_ON &&
                 resume(L, PTRACE_CONT, sig) < 0)
            rc = failed(L, err, errlen, "PTRACE_CONT");
    }
    if (rc == PA_TIMEOUT && L->bp == L->t.eval_frame && L->bp)
        snprintf(err, errlen, "Python in the program (pid %d) did not finish starting within %d ms",
                 (int)L->pid, timeout_ms);
    else if (rc == PA_TIMEOUT && err[0])   /* what on_entry found instead of Python */
        snprintf(err + strlen(err), errlen - strlen(err), ", and it did not exec Python within %d ms",
                 timeout_ms);
    else if (rc == PA_TIMEOUT)
        snprintf(err, errlen, "the program (pid %d) did not start Python within %d ms",
                 (int)L->pid, timeout_ms);
    restore_signals(L, &old);
    return rc;
}

int ltrace_queue(ltrace *L, const char *code, char *err, size_t errlen)
{
    if (!L->held) {
        snprintf(err, errlen, "ltrace_queue: the program is not held at its first frame");
        return PA_FAILED;
    }
    sigset_t old;
    block_signals(&old);
    L->th.deadline = pk_now_ns() + GRACE_NS * 4;
    int rc = pk_queue_pending(&L->t, &L->th, code, err, errlen);
    restore_signals(L, &old);
    return rc;
}

/* A child that runs (the deadline passed) must stop before it can be let
 * go; a signal it receives meanwhile is delivered on the way out. */
static long stop_for_release(ltrace *L)
{
    int st;
    if (ptrace(PTRACE_INTERRUPT, L->pid, 0, 0) != 0)
        return -1;
    L->deadline = pk_now_ns() + GRACE_NS;
    while (next_event(L, &st) == 1) {
        if ((st >> 16) != 0)
            return 0;
        if (WSTOPSIG(st) != SIGTRAP || !our_trap(L))
            return WSTOPSIG(st);
        struct user_regs_struct r;   /* our int3: back onto its instruction */
        if (ptrace(PTRACE_GETREGS, L->pid, 0, &r) == 0) {
            r.rip = L->bp;
            ptrace(PTRACE_SETREGS, L->pid, 0, &r);
        }
        return 0;
    }
    return -1;
}

void ltrace_release(ltrace *L)
{
    if (L->pid > 0 && !L->exited) {
        sigset_t old;
        block_signals(&old);
        if (L->held) {
            pk_thread_release(&L->th);
        } else {
            long sig = L->stopped ? 0 : stop_for_release(L);
            bp_clear(L);
            /* fails only if it is gone, or would not stop: then the kernel
             * detaches it when we exit */
            if (sig >= 0)
                ptrace(PTRACE_DETACH, L->pid, 0, (void *)sig);
        }
        restore_signals(L, &old);
    }
    L->held = 0;
    L->pid = 0;
    if (L->memfd >= 0)
        close(L->memfd);
    L->memfd = -1;
}
