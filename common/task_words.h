/* The words peeka uses for what a thread is doing, from what the kernel
 * says (/proc/.../task/TID/stat and syscall): shared by the agent, which
 * reads its own process, and peeka-rec, which reads its target's. */
#ifndef PEEKA_TASK_WORDS_H
#define PEEKA_TASK_WORDS_H

/* The name of a system call peeka knows ("futex", "clock_nanosleep" ...),
 * else NULL. */
const char *pk_syscall_name(long nr);

/* sched: the scheduler state letter ('?' unknown); syscall: the number it
 * waits in, -1 running, -2 unknown.  "running", "lock" (a futex: a lock, a
 * condition, the GIL), "idle" (a sleep, or waiting for I/O to become
 * ready: select, poll, epoll, accept), "syscall" (any other: read, write,
 * connect, wait4, ...) or "unknown". */
const char *pk_task_word(char sched, long syscall);

#endif
