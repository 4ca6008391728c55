/* ptrace injection of Python source into a running CPython: the pieces of
 * peeka_inject_python() (attach.h) that tests and benchmarks look at.
 * docs/attach.md explains the two routes (helper thread, pending call). */
#ifndef PEEKA_INJECT_H
#define PEEKA_INJECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "attach.h"
#include "ptrace_thread.h"

#define PK_CODE_MAX (1u << 20) /* longest source accepted */

/* How suitable a thread blocked in syscall nr(args) is for hijacking:
 * 2 a resting syscall that holds no lock (sleep, select, poll, epoll,
 *   accept, read of a socket/pipe/tty ...); 1 a futex wait of the kind used
 *   by semaphores and condition variables (never a mutex); 0 unsuitable. */
int pk_rest_score(pid_t pid, long nr, const uint64_t args[6]);

/* The source actually run: `code` compiled and exec'd in __main__.__dict__
 * inside a try statement that binds no name, swallows every exception and
 * hands a KeyboardInterrupt back to the main thread.  malloc'd, or NULL. */
char *pk_wrap_code(const char *code);

/* Launch mode: queues `code` (wrapped as above) as a pending call, from
 * the main thread `th`, which we hold stopped where the interpreter is
 * about to run bytecode with the GIL (launch_trace.c).  The code runs at
 * the next eval-breaker check, i.e. before that bytecode.  It does not
 * wait for the code, which may itself wait for the caller.  A PA_* status;
 * th's registers still need putting back. */
int pk_queue_pending(const peeka_target *t, pk_thread *th, const char *code, char *err,
                     size_t errlen);

/* How the last successful peeka_inject_python() in this process got the
 * code run: "thread" (helper thread started from a resting thread) or
 * "pending" (Py_AddPendingCall from the running main thread). */
const char *pk_last_route(void);

#endif
