/* Hooked functions: installing and removing the vectorcall hooks (hooks.c),
 * and the one rule for how long a `hooked` lives.
 *
 * Lifetime: a hook invocation that may let the GIL go (the original call,
 * any user code an observation runs) brackets everything it does with h
 * between hooked_call_begin and hooked_call_end.  Unhooking a function that
 * has calls in flight only marks it dead (no probes, vectorcall restored);
 * the last call out frees it.  Nothing else frees a `hooked`. */
#ifndef PEEKA_HOOKS_H
#define PEEKA_HOOKS_H

#include "agent.h"

int  hooks_install(probe *p, PyObject *func, int has_self, PyObject *ns, PyObject *key);
/* Takes p off every function (unhooking those left without probes).  p
 * itself is not freed: running hooks may still hold it (observe.h). */
void hooks_remove_probe(probe *p);
void hooks_remove_all(void);
int  hooks_count(void);

/* hooks.c: frees a dead hook once no call holds it any more. */
void hooks_free_dead(hooked *h);

static inline void hooked_call_begin(hooked *h)
{
    h->inflight++;
}

/* After this h may be gone: the caller must not touch it again. */
static inline void hooked_call_end(hooked *h)
{
    if (--h->inflight == 0 && h->dead)
        hooks_free_dead(h);
}

/* n calls holding h will never end (their thread is gone in a forked
 * child): as if they had.  After this h may be gone. */
static inline void hooked_calls_gone(hooked *h, int n)
{
    h->inflight -= n;
    if (h->inflight == 0 && h->dead)
        hooks_free_dead(h);
}

#endif
