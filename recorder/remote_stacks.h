/* Every thread's Python stack of a CPython 3.8+ process, read from
 * outside (process_vm_readv, as py-spy and austin do) through its
 * _Py_DebugOffsets (3.13+) or the agent's layout table (3.8-3.12,
 * debug_read.h): no code runs in the target, no GIL is taken, nothing
 * is stopped.  A target that runs meanwhile can change what is read, so
 * everything is bounded and checked (docs/architecture.md "Reading stacks
 * from outside"): a read that fails or looks wrong ends that thread's
 * stack early with the reason, it never crashes peeka-rec. */
#ifndef PEEKA_REMOTE_STACKS_H
#define PEEKA_REMOTE_STACKS_H

#include <stddef.h>
#include <stdint.h>

#include "attach.h"

#define RS_FUNC_MAX 256        /* bytes of UTF-8 kept of a function name */
#define RS_FILE_MAX 1024       /* ... of a file name */
#define RS_WALK_MAX 4096       /* frames followed per thread */
#define RS_TABLE_MAX (1 << 20) /* the longest line table read */
#define RS_CODES_MAX 8192      /* code objects remembered per snapshot */

typedef struct rs_code {
    uint64_t addr;
    char file[RS_FILE_MAX];
    char func[RS_FUNC_MAX];    /* co_name, as the agent's records have it */
    int firstline;
    uint8_t *table;            /* its co_linetable, NULL when unreadable */
    size_t table_len;
} rs_code;

typedef struct rs_frame {
    int code;                  /* index in rs_snapshot.codes */
    int line;                  /* -1: the line table gives none */
} rs_frame;

typedef struct rs_thread {
    uint64_t thread_id;        /* threading.get_ident() */
    uint64_t native_id;        /* the kernel's */
    int holds_gil;
    int depth;                 /* Python frames found */
    int nframes;               /* of them kept in frames, innermost first */
    rs_frame *frames;
    const char *cut;           /* why the stack ended early, or NULL */
} rs_thread;

typedef struct rs_snapshot {
    rs_thread *threads;
    size_t nthreads;
    rs_code *codes;
    size_t ncodes, codes_cap;
    int gil_locked;
    uint64_t gil_holder;       /* native id of the GIL's holder, 0 when unknown */
} rs_snapshot;

/* One snapshot of t, at most max_depth frames kept per thread: 0, or -1
 * with err saying why nothing could be read (older than 3.8, unknown
 * layout, no agent with a layout table, the process gone ...). */
int rs_read(const peeka_target *t, int max_depth, rs_snapshot *s, char *err, size_t errlen);
void rs_free(rs_snapshot *s);

#endif
