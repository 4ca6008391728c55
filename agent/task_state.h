/* What the kernel says a thread of this process is doing, read from
 * /proc/self/task/TID without the GIL and without touching Python: its
 * scheduler state, the system call it is in, its CPU time. */
#ifndef PEEKA_TASK_STATE_H
#define PEEKA_TASK_STATE_H

#include <stdint.h>
#include <sys/types.h>

typedef struct task_state {
    char sched;               /* /proc stat state: R, S, D, T, ... ('?' unknown) */
    long syscall;             /* the system call it waits in, -1 running, -2 unknown */
    unsigned long arg0;       /* its first argument (a futex's address) */
} task_state;

/* 0, or -1 when the thread is gone or /proc cannot say. */
int task_state_read(pid_t tid, task_state *out);
/* "running", "lock" (a futex: a lock, a condition, the GIL), "idle" (a
 * sleep, or waiting for I/O to become ready: select, poll, epoll, accept)
 * or "syscall" (any other: read, write, connect, wait4, ...). */
const char *task_state_word(const task_state *t);
/* The name of a system call peeka knows, else NULL. */
const char *task_syscall_name(long nr);
/* The thread's CPU time in ns (user + system), -1 when unknown. */
int64_t task_cpu_ns(pid_t tid);

#endif
