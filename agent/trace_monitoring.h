/* trace's event source on CPython 3.12+: the agent's sys.monitoring tool
 * (monitoring.h).  There PyEval_SetProfile is a shim over sys.monitoring
 * that makes a frame object per event; a tool with C callbacks gets the
 * code object directly.  Tools sit beside each other, so a profiler the
 * target already runs (cProfile, sys.setprofile, coverage) is neither
 * replaced nor chained: it keeps its own tool.
 *
 * Events are per interpreter, not per thread: they are on only while some
 * thread runs a traced call, and trace.c's handler drops other threads'
 * events (and those of the tool's other user).  GIL held for everything
 * here. */
#ifndef PEEKA_TRACE_MONITORING_H
#define PEEKA_TRACE_MONITORING_H

#include "monitoring.h"

#if PY_VERSION_HEX >= 0x030C0000

/* Every trace probe holds the tool from creation to its end (the first
 * one of the agent claims a free tool id).  -1 with a message in err when
 * no id is free or sys.monitoring refused. */
int  tmon_acquire(mon_handler handler, char *err, size_t errlen);
void tmon_release(void);

/* A traced call starts / ends on some thread: events go on with the first,
 * off with the last.  begin returns a generation for end, 0 when events
 * could not be switched on (the call is then not traced); end with a
 * generation from before a release does nothing. */
unsigned tmon_begin(int builtins);
void tmon_end(unsigned gen, int builtins);

#endif
#endif
