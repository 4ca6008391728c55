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

/* Offsets inside _Py_DebugOffsets of the fields this route reads, for one
 * CPython minor version.  The struct is the interpreter's published
 * contract with debuggers: stable within a minor version, so one row per
 * version, checked against the headers by tests/e2e/test_remote_exec.py. */
typedef struct rx_layout {
    int minor;
    uint32_t size;                /* sizeof(_Py_DebugOffsets) */
    uint32_t interpreters_head;   /* runtime_state.interpreters_head */
    uint32_t threads_head;        /* interpreter_state.threads_head */
    uint32_t threads_main;        /* interpreter_state.threads_main */
    uint32_t ts_next;             /* thread_state.next */
    uint32_t ts_native_id;        /* thread_state.native_thread_id */
    uint32_t eval_breaker;        /* debugger_support.eval_breaker */
    uint32_t support;             /* debugger_support.remote_debugger_support */
    uint32_t enabled;             /* debugger_support.remote_debugging_enabled */
    uint32_t pending;             /* debugger_support.debugger_pending_call */
    uint32_t script_path;         /* debugger_support.debugger_script_path */
    uint32_t script_path_size;    /* debugger_support.debugger_script_path_size */
} rx_layout;

/* The row for 3.minor, or NULL when peeka does not know that version's. */
const rx_layout *rx_layout_for(int major, int minor);

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

#endif
