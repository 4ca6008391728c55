/* Python frames as records show them ({filename, lineno, function,
 * code_context}), for every CPython the agent is built for: the stack
 * probe's stack at entry, the thread probe's stacks, top's samples.  GIL
 * held.  Only code objects and line numbers are read: no source file is
 * opened inside the target, so code_context is always null. */
#ifndef PEEKA_PYFRAMES_H
#define PEEKA_PYFRAMES_H

#include "agent.h"

#include <frameobject.h>

/* New references, or NULL. */
PyFrameObject *pyframe_back(PyFrameObject *f);
PyCodeObject *pyframe_code(PyFrameObject *f);
/* The innermost frame of a thread (any thread: the GIL is held). */
PyFrameObject *pyframe_of_thread(PyThreadState *t);

/* One frame object, preceded by a comma unless first. */
void pyframe_write(jsonw *w, PyCodeObject *code, int line, int first);
/* f and its callers, innermost first, at most max of them (`first`: as
 * above); with count_all, returns how many frames the stack has in all
 * (counting stops at PYFRAMES_COUNT_MAX), else how many were written.
 * f is not consumed. */
#define PYFRAMES_COUNT_MAX 100000
int pyframes_write(jsonw *w, PyFrameObject *f, int max, int first, int count_all);

#endif
