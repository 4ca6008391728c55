/* Launch mode when the sitecustomize cannot work (python -I, -S, -E):
 * peeka-rec traces its own child from its exec until CPython is
 * initialised and about to run its first Python frame, and queues the
 * bootstrap there as a pending call, so the agent is in before the
 * program's first line, as with the sitecustomize.  A parent may trace its
 * child even where kernel.yama.ptrace_scope is 1.  docs/attach.md,
 * "Launch mode without the sitecustomize", says how. */
#ifndef PEEKA_LAUNCH_TRACE_H
#define PEEKA_LAUNCH_TRACE_H

#include <stdint.h>
#include <sys/types.h>
#include "attach.h"
#include "ptrace_thread.h"

typedef struct ltrace {
    pid_t pid;
    int64_t deadline;
    int memfd;            /* /proc/PID/mem of the image since the last exec */
    uint64_t entry;       /* the image's entry point (AT_ENTRY) */
    uint64_t bp;          /* where our int3 is, 0 for none */
    uint8_t bp_orig;      /* the byte it replaced */
    int stopped;          /* in a ptrace-stop we have not resumed */
    int held;             /* th: the main thread, stopped at the first frame */
    pk_thread th;
    int exited, status;   /* the child's wait status once it exited; -1 when it
                           * was reaped where we could not see it (a race) */
    peeka_target t;       /* the interpreter, once found */
} ltrace;

void ltrace_init(ltrace *L);
/* In the parent, between fork and the child's exec: traces the child's
 * exec and thread creation only.  0, or -1 with err (ptrace refused). */
int ltrace_seize(ltrace *L, pid_t child, char *err, size_t errlen);

/* Lets the child run (it is stopped at its exec, or about to be) to its
 * first Python frame after Py_IsInitialized() became true, and holds it
 * there.  PA_OK: held, L->t describes the interpreter.  PA_EXITED: the
 * child exited (L->status).  PA_NOTPYTHON, PA_UNSUPPORTED (err; L->t tells
 * a free-threaded build), PA_TIMEOUT, PA_FAILED: not held, and the child
 * is still traced until ltrace_release(). */
int ltrace_to_first_frame(ltrace *L, int timeout_ms, char *err, size_t errlen);

/* Held: queues `code` as a pending call on the main thread.  PA_*. */
int ltrace_queue(ltrace *L, const char *code, char *err, size_t errlen);

/* Removes our breakpoint, puts the held thread back and stops tracing:
 * the child runs on exactly as if never traced.  Safe on every path. */
void ltrace_release(ltrace *L);

#endif
