/* The agent's one sys.monitoring (PEP 669) tool, CPython 3.12+.
 *
 * Two parts of the agent use sys.monitoring: trace (global events while a
 * traced call runs, trace_monitoring.h) and watch on an `async def` (local
 * events on the watched code object, watch_async_events.c).  They share
 * one tool id: a target that already runs a debugger, coverage and a
 * profiler must not lose a second id to us.  Each event has one callback
 * per tool, so this file owns the callbacks and hands every event to each
 * user that holds the tool; each user ignores what is not its own.
 *
 * The callbacks never return sys.monitoring.DISABLE: that would switch the
 * location off for the whole tool, so for the other user too.
 *
 * sys.monitoring has no C API for claiming a tool or setting events before
 * 3.14, so this calls its Python functions: when a user starts or stops
 * needing events, never per event.  GIL held for everything here. */
#ifndef PEEKA_MONITORING_H
#define PEEKA_MONITORING_H

#include "agent.h"

#if PY_VERSION_HEX >= 0x030C0000

enum mon_user { MON_TRACE, MON_ASYNC, MON_USERS };

enum mon_event { MEV_START, MEV_RESUME, MEV_THROW, MEV_RETURN, MEV_YIELD, MEV_UNWIND,
                 MEV_CALL, MEV_C_RETURN, MEV_C_RAISE, MEV_COUNT };

/* A user's view of one event: the callback's arguments as sys.monitoring
 * passed them (code, offset, ...).  Must leave no exception set. */
typedef void (*mon_handler)(enum mon_event ev, PyObject *const *args, Py_ssize_t nargs);

/* Takes a hold on the tool for `user` (holds are counted): the first hold
 * of anyone claims a free tool id and registers the callbacks.  -1 with a
 * message in err, naming `who` ("trace", ...), when no id is free or
 * sys.monitoring refused; no Python exception is left set. */
int  mon_acquire(enum mon_user user, mon_handler handler, const char *who,
                 char *err, size_t errlen);
/* Drops a hold; the last one of all users gives the tool back: events
 * off, callbacks unregistered, id free.  Keeps a pending exception. */
void mon_release(enum mon_user user);

/* sys.monitoring.events.X for one event. */
long mon_bit(enum mon_event ev);

/* The events `user` wants everywhere; the tool's global events are the
 * union of all users'.  -1 (error cleared) when sys.monitoring refused:
 * the previous set stays. */
int  mon_set_global(enum mon_user user, long mask);

/* sys.monitoring.set_local_events(tool, code, mask).  -1 with the Python
 * exception set when refused (e.g. an event that cannot be local). */
int  mon_set_local(PyObject *code, long mask);

/* sys.monitoring.MISSING: the arg0 of a call without arguments. */
extern PyObject *mon_missing;

#endif

/* peeka-rec --uninstall, no session open: a tool id still held (a hold a
 * session could not drop) is given back, whoever held it.  1 when one was. */
int mon_purge(void);

#endif
