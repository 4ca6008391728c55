/* One thread of another process under ptrace (x86_64): seize and stop it,
 * save and restore its registers and FP/SSE/AVX state, run a syscall or a
 * function call in it, and let it go.  Every wait is bounded by a deadline.
 * Signals that arrive while we hold the thread are kept and raised again
 * when it is released; none is swallowed. */
#ifndef PEEKA_PTRACE_THREAD_H
#define PEEKA_PTRACE_THREAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#define PK_MAX_STASHED_SIGS 8

typedef struct pk_thread {
    pid_t pid, tid;
    int memfd;        /* /proc/PID/mem, read-write */
    int seized;
    int64_t deadline; /* CLOCK_MONOTONIC ns */
    struct user_regs_struct saved;  /* as stopped */
    uint8_t *xsave;                 /* NT_X86_XSTATE as stopped */
    size_t xsave_len;
    int modified;     /* registers differ from `saved` */
    int sigs[PK_MAX_STASHED_SIGS];
    int nsigs;
    int group_stop;   /* someone stopped the process while we held the thread */
    int in_syscall;   /* the stop took it out of a system call it restarts when let go */
    int64_t cpu_ns;   /* its CPU time when stopped (pk_task_cpu_ns), -1 unknown */
    char err[256];    /* why the last call failed */
} pk_thread;

/* Results of the calls below (mapped to peeka_attach_status by inject.c). */
enum pk_result {
    PK_OK = 0,
    PK_GONE,     /* the thread (or process) exited */
    PK_PERM,     /* ptrace refused: err says why */
    PK_STOPPED,  /* the process is in group-stop (SIGSTOP) */
    PK_TIMEOUT,  /* deadline passed */
    PK_FAULT,    /* the injected code faulted somewhere else: err */
    PK_FAIL      /* other error: err */
};

int64_t pk_now_ns(void);

/* Seizes tid, interrupts it and waits for it to stop; saves its state. */
int pk_thread_seize(pk_thread *th, pid_t pid, pid_t tid, int64_t deadline);
/* Puts back the saved registers and FP state, raises the kept signals
 * again and detaches.  Safe to call on any path; returns PK_OK or PK_GONE. */
int pk_thread_release(pk_thread *th);

/* After pk_thread_release of n threads: waits (until deadline) for every
 * one that the stop took out of a blocking system call to block again or
 * to run on, so that the kick peeka gave it is over before anything looks
 * at the threads (a thread snapshot would call it "running"). */
void pk_threads_settle(const pk_thread *th, size_t n, int64_t deadline);
/* How long that may take: a loaded machine can leave a woken thread
 * waiting for a CPU for hundreds of milliseconds. */
#define PK_SETTLE_NS 2000000000LL

/* For a thread that we already trace and that is in a ptrace-stop (launch
 * mode follows its own child from exec): saves its state as
 * pk_thread_seize does, so that the calls below can be used on it. */
int pk_thread_adopt(pk_thread *th, pid_t pid, pid_t tid, int64_t deadline);
/* Puts back the saved registers and FP state and raises the kept signals
 * again, leaving the thread traced and stopped; the pk_thread is done. */
int pk_thread_put_back(pk_thread *th);

/* Runs syscall nr with args by single-stepping over the `syscall`
 * instruction at insn.  *ret is the raw kernel result (-errno on error). */
int pk_thread_syscall(pk_thread *th, uint64_t insn, long nr, const uint64_t args[6],
                      int64_t *ret);
/* Calls fn(args...) with a clean FP state on a fresh, aligned stack frame
 * below the thread's red zone; returns to `trap`, a non-executable address,
 * where the fault tells us the call is over.  *ret gets rax. */
int pk_thread_call(pk_thread *th, uint64_t fn, const uint64_t args[6], uint64_t trap,
                   uint64_t *ret);

/* Target memory through /proc/PID/mem (works on read-only pages too). */
int pk_mem_read(const pk_thread *th, uint64_t addr, void *buf, size_t len);
int pk_mem_write(const pk_thread *th, uint64_t addr, const void *buf, size_t len);

#endif
