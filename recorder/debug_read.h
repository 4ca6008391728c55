/* Reading a CPython 3.8+ process from outside with process_vm_readv: what
 * the PEP 768 route (remote_exec.c) and the stack reader (remote_stacks.c)
 * share.  The offsets come from the target's own _Py_DebugOffsets on
 * 3.13+ (debug_offsets.h) and from the layout table of peeka's agent for
 * that version on 3.8-3.12 (py_layout_read.h); either way they end up in
 * one pk_py_layout, so the walks do not care which.  Nothing here writes
 * to the target or stops it. */
#ifndef PEEKA_DEBUG_READ_H
#define PEEKA_DEBUG_READ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "attach.h"
#include "debug_offsets.h"
#include "py_layout.h"

#define DV_MAX_OFFSETS 4096
#define DV_MAX_TSTATES 4096   /* bounds every walk of the thread list */

typedef struct dbg_view {
    pid_t pid;
    int minor;                     /* of CPython 3 */
    const rx_layout *L;            /* 3.13+: the columns of dbg */
    uint8_t dbg[DV_MAX_OFFSETS];   /* 3.13+: the target's _Py_DebugOffsets */
    pk_py_layout o;                /* every version: the offsets the walks use */
    uint64_t interp;               /* its main interpreter state */
    /* where its main interpreter's GIL keeps these (GIL builds) */
    uint64_t gil_locked_at, gil_holder_at, gil_switches_at;
} dbg_view;

/* Fills v from t: 0, or -1 with why not in why (older than 3.8, offsets
 * this peeka does not know or cannot read, a free-threaded build, no
 * interpreter yet). */
int dv_open(dbg_view *v, const peeka_target *t, char *why, size_t whylen);

/* len bytes at addr into buf: 0, or -1 (unmapped, the process gone). */
int dv_read(pid_t pid, uint64_t addr, void *buf, size_t len);
/* The 8-byte word at addr, 0 when it cannot be read. */
uint64_t dv_ptr(const dbg_view *v, uint64_t addr);
/* 3.13+: the value of the _Py_DebugOffsets field at `field` (an rx_layout
 * column). */
uint64_t dv_off(const dbg_view *v, uint32_t field);

/* The interpreter's thread states, head first, into out (at most max). */
size_t dv_tstates(const dbg_view *v, uint64_t *out, size_t max);
/* The kernel's ids of the threads whose states are ts[0..n) into out
 * (0 where unknown): stored in the state from 3.11 on, found through the
 * pthread_t before (pthread_tids.h). */
void dv_native_ids(const dbg_view *v, const uint64_t *ts, size_t n, uint64_t *out);
/* The native thread id stored in thread state ts (3.11+). */
uint64_t dv_native_id(const dbg_view *v, uint64_t ts);

/* The GIL of the main interpreter (GIL builds).  holder is the address of
 * the thread state that took it last. */
typedef struct dv_gil {
    int locked;
    uint64_t holder_ts;
    uint64_t switches;   /* hand-offs since start */
} dv_gil;

int dv_gil_read(const dbg_view *v, dv_gil *g);

#endif
