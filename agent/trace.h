/* The trace probe: the call tree of one call, built from profile events
 * that are switched on at entry of the traced call and off at its exit:
 * a per-thread profile function up to 3.11, a sys.monitoring tool from
 * 3.12 (trace_monitoring.h). */
#ifndef PEEKA_TRACE_H
#define PEEKA_TRACE_H

#include "observe.h"

typedef struct {
    probe *p;                   /* NULL: this call is not traced */
} trace_run;

/* A trace probe is created / freed (GIL held).  3.12+: claims / gives back
 * the sys.monitoring tool; -1 with a message when no tool id is free. */
int  trace_probe_init(probe *p, char *err, size_t errlen);
void trace_probe_free(probe *p);
/* The calls below are made inside the observation guard (observe.h).
 * At entry: starts a tree for the first trace probe on c->h that
 * wants one, unless this thread is already inside a traced call.  Returns
 * 1 when tracing. */
int  trace_begin(trace_run *r, const call *c);
/* Right after the traced call returned or raised, on every path: puts the
 * thread's previous profile function back (3.12+: switches the tool's
 * events off unless another thread is tracing) and closes open nodes. */
void trace_stop(trace_run *r, int64_t t1);
/* Emits the tree if the probe is still on the function and wants it
 * (condition, --min-duration).  Frees the tree. */
void trace_emit(trace_run *r, const call *c);
/* Frees the tree without touching the probe (it may be gone). */
void trace_discard(trace_run *r);
/* In a forked child, GIL held: the trees of the threads that are gone are
 * freed; a traced call this thread forked inside stops being traced (its
 * thread's previous profile function is back) and will emit nothing. */
void trace_after_fork(void);

#endif
