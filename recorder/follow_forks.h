/* --follow-forks: the processes the target forks during the recording.
 * A forked child's agent goes on recording (agent/session.c follow_child)
 * and connects to our listening socket with the session's token; each
 * such process gets a connection of its own here, its records go into the
 * same archive (each names its `pid`), and the summary lists them.
 * Children running the same Python that carry no agent (forked before the
 * recording, or exec'd during it: a multiprocessing forkserver or spawn
 * child) are attached like the target: docs/attach.md "Child processes". */
#ifndef PEEKA_FOLLOW_FORKS_H
#define PEEKA_FOLLOW_FORKS_H

#include <cJSON.h>
#include <stdint.h>
#include "agent_conn.h"
#include "recording.h"
#include "rundir.h"

#define MAX_FOLLOWED 256

typedef struct {
    agent_conn c;
    pid_t parent;
    int64_t start_ns, end_ns;   /* wall clock: connected, connection ended */
    int64_t next_ping;
    int open;
} followed_proc;

typedef struct forks_state {
    rundir *rd;
    followed_proc *v;           /* MAX_FOLLOWED of them */
    int n;
    int refused;                /* connections that were no child of ours, or beyond the bound */
    pid_t *skipped;             /* MAX_FOLLOWED: children that could not be adopted */
    int nskipped;
    int64_t next_scan;          /* monotonic: the next look for exec'd children */
} forks_state;

/* NULL when out of memory. */
forks_state *forks_new(rundir *rd);
void forks_free(forks_state *f);
/* Takes new children's connections and moves what they sent; every
 * 100 ms, adopts the children that exec'd the same Python (they run no
 * agent) as forks_adopt_existing does.  -1 when the archive could not be
 * written (r->fail set), else 0. */
int forks_poll(recording *r, char *err, size_t errlen);
/* -p with --follow-forks, once the target's probes are in: its
 * descendants running the same executable, forked before the recording,
 * are attached and given the probes too (stderr says which could not). */
void forks_adopt_existing(recording *r);
/* The recording ends: every child still connected is detached and
 * drained. */
void forks_finish(recording *r, char *err, size_t errlen);
/* [{pid, parent, start, end}] of every followed process, for the summary. */
cJSON *forks_json(const recording *r);

#endif
