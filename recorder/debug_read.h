/* Reading a CPython 3.13+ process from outside with process_vm_readv,
 * guided by its _Py_DebugOffsets (debug_offsets.h): what the PEP 768 route
 * (remote_exec.c) and the stack reader (remote_stacks.c) share.  Nothing
 * here writes to the target or stops it. */
#ifndef PEEKA_DEBUG_READ_H
#define PEEKA_DEBUG_READ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "attach.h"
#include "debug_offsets.h"

#define DV_MAX_OFFSETS 4096
#define DV_MAX_TSTATES 4096   /* bounds every walk of the thread list */

typedef struct dbg_view {
    pid_t pid;
    const rx_layout *L;
    uint8_t dbg[DV_MAX_OFFSETS];   /* the target's _Py_DebugOffsets */
    uint64_t interp;               /* its main interpreter state */
} dbg_view;

/* Fills v from t: 0, or -1 with why not in why (older than 3.13, a layout
 * this peeka does not know, a free-threaded build, offsets that are not
 * those of t's version, no interpreter yet). */
int dv_open(dbg_view *v, const peeka_target *t, char *why, size_t whylen);

/* len bytes at addr into buf: 0, or -1 (unmapped, the process gone). */
int dv_read(pid_t pid, uint64_t addr, void *buf, size_t len);
/* The 8-byte word at addr, 0 when it cannot be read. */
uint64_t dv_ptr(const dbg_view *v, uint64_t addr);
/* The value of the _Py_DebugOffsets field at `field` (an rx_layout column). */
uint64_t dv_off(const dbg_view *v, uint32_t field);

/* The interpreter's thread states, head first, into out (at most max). */
size_t dv_tstates(const dbg_view *v, uint64_t *out, size_t max);
/* The native thread id stored in thread state ts. */
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
