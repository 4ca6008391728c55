/* The PEP 768 route into CPython 3.14+: ask the interpreter itself to run a
 * script file at its next safe point (what sys.remote_exec does), by
 * writing the request into thread states found through the target's
 * _Py_DebugOffsets.  No code is injected and no register touched; threads
 * are held still only for the few writes.  docs/attach.md tells the rest. */
#ifndef PEEKA_REMOTE_EXEC_H
#define PEEKA_REMOTE_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "attach.h"
#include "debug_offsets.h"

/* Whether the route can be tried on t: PA_OK; PA_DISABLED when the target
 * turned remote debugging off; PA_NOROUTE when it cannot be used here
 * (older Python, unknown layout, another mount namespace ...).  err says
 * why in both cases. */
int peeka_remote_exec_check(const peeka_target *t, char *err, size_t errlen);

/* Asks every thread of the target to run the Python file `script` (an
 * absolute path the target can read) and returns PA_OK as soon as one has
 * run it far enough to connect back (ready_fd, the listening socket, is
 * readable) or, at grace_ms, has started it.  When none has within grace_ms (all blocked in C or in
 * syscalls) the requests are withdrawn and PA_NOROUTE is returned, so that
 * another route can be tried; a thread that raced the withdrawal may still
 * run the script once, which the bootstrap tolerates.  Requests left in
 * the other threads are withdrawn too, so that nothing runs later. */
int peeka_remote_exec(const peeka_target *t, const char *script, int ready_fd, int grace_ms,
                      char *err, size_t errlen);

/* The GIL of t's main interpreter, read from outside (3.8+, GIL builds).
 * holder is the native id of the thread whose state is the GIL's last
 * holder (0 when that state is not in the thread list); switches counts
 * the hand-offs since start: unchanged with locked set between two reads
 * means one thread held it all along. */
typedef struct rx_gil {
    int locked;
    uint64_t holder;
    uint64_t switches;
} rx_gil;

/* 0 with *g filled, -1 when it cannot be read (older Python, unknown
 * layout, free-threaded build, the process gone). */
int peeka_gil_read(const peeka_target *t, rx_gil *g);

#endif
