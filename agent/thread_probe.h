/* The thread probe (Peeka's `thread`): one record per Python thread per
 * snapshot, with its ids, name, daemon flag, what the kernel says it is
 * doing, and its Python stack. */
#ifndef PEEKA_THREAD_PROBE_H
#define PEEKA_THREAD_PROBE_H

#include "agent.h"

#include "task_state.h"

#include <sys/types.h>

/* A thread of the last snapshot, as a timed-out one names it. */
typedef struct known_thread {
    const void *tstate;         /* identity only, never dereferenced */
    long native;
    unsigned long ident;
    char name[64];
} known_thread;

/* GIL held, sampler.c's lock held: snapshot number `cycle` of probe p
 * into w, every thread but the agent's own (idents skip[0..nskip));
 * threads waiting on gil_futex (0: unknown) are waiting for the GIL.
 * Returns how many records it wrote. */
int snapshot_write(probe *p, jsonw *w, int64_t cycle, const unsigned long *skip, int nskip,
                   unsigned long gil_futex);

/* sampler.c's lock held: the threads of the last snapshot. */
int snapshot_known(const known_thread **out);
/* ,"syscall":...,"sched":... of a thread's kernel state. */
void snapshot_write_native(jsonw *w, const task_state *ts);

/* gil_timeout.c, without the GIL, sampler.c's lock held: the record of a snapshot that
 * could not have the GIL within --wait: every thread as the kernel sees
 * it, those waiting on the futex the sampler waits on (gil_waiter, its
 * address) apart, and the thread that most likely holds the GIL, named
 * from the last snapshot taken.  The agent's own threads (tids skip) are
 * left out. */
int snapshot_timeout(probe *p, jsonw *w, int64_t cycle, int64_t waited_ns,
                     const pid_t *skip, int nskip, unsigned long gil_futex);

/* GIL held: threading._active (a new reference), or NULL before threading
 * was imported; and what it says of thread t: its native id (0 unknown),
 * its name (a new reference, or NULL); returns its daemon flag, -1 when t
 * is no threading.Thread.  No program code runs. */
PyObject *pythread_active(void);
/* Is ident one of skip[0..nskip)? */
int pythread_skipped(unsigned long ident, const unsigned long *skip, int nskip);
/* A record of thread or top written into w from `mark` on: 1 when it fit,
 * else it is taken back (never half a line), counted as a drop, and 0. */
int sampled_record_kept(probe *p, jsonw *w, size_t mark);
int pythread_describe(PyThreadState *t, PyObject *active, long *native, PyObject **name);

#endif
