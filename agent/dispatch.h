/* The one entry point from a hook into the observation layer: every call
 * of a hooked function (hooks.c, and on 3.11 its wrappers, wrapper.c)
 * goes here.  Implemented by watch.c, which keeps the watch-only path
 * short and hands functions with other probe kinds to probe_call.c. */
#ifndef PEEKA_DISPATCH_H
#define PEEKA_DISPATCH_H

#include "agent.h"

PyObject *observe_call(hooked *h, PyObject *callable, PyObject *const *args,
                       size_t nargsf, PyObject *kwnames);

#endif
