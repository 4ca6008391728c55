/* The watch kind: what watch.c shares with watch_async*.c and probe_call.c. */
#ifndef PEEKA_WATCH_H
#define PEEKA_WATCH_H

#include "observe.h"

/* Emits the records the watch probes on c->h want at `at`; inside the guard. */
void watch_observe(const call *c, enum where at);
/* The watch probes on h that still want `at`. */
int  watch_wants(const hooked *h, enum where at);
/* probe_call.c: a hooked call of a function that carries a trace, stack or
 * monitor probe (watch.c's observe_call sends it there). */
PyObject *probe_call(hooked *h, PyObject *callable, PyObject *const *args,
                     size_t nargsf, PyObject *kwnames);

#endif
