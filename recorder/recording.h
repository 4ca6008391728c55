/* One recording from the moment the agent has connected: install the
 * probes, move observations into the archive (or stdout), stop on the
 * first limit reached, detach, and write the summary. */
#ifndef PEEKA_RECORDING_H
#define PEEKA_RECORDING_H

#include <signal.h>
#include <sys/types.h>
#include "agent_conn.h"
#include "archive_write.h"
#include "options.h"

typedef struct {
    const rec_options *opt;
    agent_conn *conn;
    peeka_aw *aw;               /* NULL when streaming to stdout */
    const char *mode;           /* "attach" or "launch" */
    pid_t child;                /* launch mode */
    int child_status, child_done;
    long long per_probe[MAX_REC_PROBES + 1];
    long long records;
    char reason[32];
    char *agent_stats;          /* the agent's final counts (JSON) */
    int64_t start_ns_wall, start_mono;
    long long last_drops;
} recording;

extern volatile sig_atomic_t g_stop_signal;

/* Returns an EX_* code. */
int recording_run(recording *r, char *err, size_t errlen);
char *recording_session_json(const recording *r);

#endif
