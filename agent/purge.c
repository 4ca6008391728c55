/* peeka-rec --uninstall inside the target: every trace a recording can
 * leave when it could not end cleanly.  A session still open ends now; the
 * probes and ring buffers a session had to leave allocated because a hook
 * stayed inside the observation guard (observe.h) are freed once no hook
 * is inside any more; hooks, the import hook and a sys.monitoring tool id
 * still held with no session open are given back.  What the Python side
 * adds (the pre-installed agent's handler) is python/peeka_agent's. */
#include "session.h"
#include "hooks.h"
#include "monitoring.h"
#include "observe.h"

#include <stdio.h>
#include <string.h>

#define MAX_LEFTOVER_RINGS 8
static ring rings[MAX_LEFTOVER_RINGS];
static int nrings;

/* rb stays as it is: the stuck hook may still write into it when it
 * leaves user code (the next session forgets it without freeing). */
void leftover_ring_keep(ring *rb)
{
    if (rb->data && nrings < MAX_LEFTOVER_RINGS)
        rings[nrings++] = *rb;
}

int leftover_rings_free(void)
{
    if (nrings == 0 || !observe_quiesce())
        return 0;
    int n = nrings;
    for (int i = 0; i < n; i++) {
        if (g_agent.rb.data == rings[i].data)
            memset(&g_agent.rb, 0, sizeof g_agent.rb);   /* no session since: it still names it */
        ring_free(&rings[i]);
    }
    nrings = 0;
    return n;
}

/* Appends "N thing(s)" (n > 0) to list; -1 when out of memory. */
static int say(PyObject *list, int n, const char *one, const char *many)
{
    if (n <= 0)
        return 0;
    PyObject *s = n == 1 ? PyUnicode_FromString(one) : PyUnicode_FromFormat("%d %s", n, many);
    int rc = s ? PyList_Append(list, s) : -1;
    Py_XDECREF(s);
    return rc;
}

/* With no session open: hooks, the import hook, a tool id. */
static int give_back_idle(PyObject *list)
{
    if (g_agent.active)
        return 0;
    int hooks = hooks_count();
    if (hooks > 0) {
        atomic_store(&g_agent.stopping, 1);
        hooks_remove_all();
    }
    pending_remove();
    PyErr_Clear();
    if (say(list, hooks, "a function still hooked", "functions still hooked") < 0)
        return -1;
    return say(list, mon_purge(), "the sys.monitoring tool id peeka held", "");
}

PyObject *agent_purge(void)
{
    PyObject *list = PyList_New(0);
    if (!list)
        return NULL;
    int ended = session_end_now();
    int probes = commands_free_leftovers();
    int bufs = leftover_rings_free();
    if (say(list, ended, "an open session (its recorder gone quiet, or still recording)", "") < 0 ||
        say(list, probes, "a probe left behind by a hook stuck in user code",
            "probes left behind by a hook stuck in user code") < 0 ||
        say(list, bufs, "a ring buffer left behind with them", "ring buffers left behind with them") < 0 ||
        give_back_idle(list) < 0) {
        Py_DECREF(list);
        return NULL;
    }
    return list;
}
