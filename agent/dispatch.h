/* The entry points from hooks.c into the observation layer.  Every call
 * of a hooked function (hooks.c, and on 3.11 its wrappers, wrapper.c)
 * goes to observe_call, implemented by watch.c, which keeps the
 * watch-only path short and hands functions with other probe kinds to
 * probe_call.c. */
#ifndef PEEKA_DISPATCH_H
#define PEEKA_DISPATCH_H

#include "agent.h"

PyObject *observe_call(hooked *h, PyObject *callable, PyObject *const *args,
                       size_t nargsf, PyObject *kwnames);

/* h's probes changed: `added` was just added (or NULL: one was removed, or
 * h was unhooked and has none).  What a probe needs beyond the hook is set
 * up or given back here (3.12+: sys.monitoring events for a watch on an
 * async def, watch_async_events.c).  -1 with a Python exception when
 * `added` cannot have it; the caller then takes it off h again. */
int observe_probes_changed(hooked *h, probe *added);

#endif
