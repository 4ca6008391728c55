/* The thread probe (Peeka's `thread`): one record per Python thread per
 * snapshot, with its ids, name, daemon flag, what the kernel says it is
 * doing, and its Python stack. */
#ifndef PEEKA_SNAPSHOT_H
#define PEEKA_SNAPSHOT_H

#include "agent.h"

#include <sys/types.h>

/* GIL held, sampler.c's lock held: snapshot number `cycle` of probe p
 * into w, every thread but the agent's own (idents skip[0..nskip));
 * returns how many records it wrote. */
int snapshot_write(probe *p, jsonw *w, int64_t cycle, const unsigned long *skip, int nskip);

/* Without the GIL, sampler.c's lock held: the record of a snapshot that
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
int pythread_describe(PyThreadState *t, PyObject *active, long *native, PyObject **name);

#endif
