/* One recording from the moment the agent has connected: install the
 * probes, move observations into the archive (or stdout), stop on the
 * first limit reached, detach, and write the summary. */
#ifndef PEEKA_RECORDING_H
#define PEEKA_RECORDING_H

#include <signal.h>
#include <sys/types.h>
#include "agent_conn.h"
#include "launch.h"
#include "archive_write.h"
#include "options.h"

/* Why a recording ended; the summary's "reason" is rec_end_name(). */
typedef enum {
    END_NONE = 0,
    END_DURATION,        /* "duration": -d reached */
    END_COUNT,           /* "count": every probe with -n reached it */
    END_TARGET_EXITED,   /* "target-exited" */
    END_SIGNAL,          /* "signal": SIGINT, SIGTERM, SIGHUP */
    END_WRITE_ERROR,     /* "write-error" */
    END_AGENT_LOST,      /* "agent-lost": the agent went away, the target lives */
    END_PROTOCOL_ERROR,  /* "protocol-error": the agent broke the protocol */
    END_OUTPUT_CLOSED,   /* "output-closed": -o - and the reader went away */
    END_STOPPED          /* "stopped": peeka-rec --attach=KEY --stop, or an attached client's Ctrl-C */
} rec_end;

const char *rec_end_name(rec_end e);

/* How peeka got into the target, for session.json's "attach". */
typedef struct {
    const char *route;          /* remote-exec, thread, pending, gdb, launch, launch-first-frame */
    double ms;                  /* from peeka-rec's first look (or the program's start) to the hello */
    char fallback[400];         /* why the preferred route was not used, or "" */
    int late;                   /* launch mode attached to its program after the timeout */
} attach_info;

typedef struct {
    const rec_options *opt;
    agent_conn *conn;
    peeka_aw *aw;               /* NULL when streaming to stdout */
    const char *mode;           /* "attach" or "launch" */
    attach_info attach;
    pid_t child;                /* launch mode */
    int child_status, child_done;
    long long per_probe[MAX_REC_PROBES + 1];
    long long records;
    rec_end reason;
    int fail;                   /* EX_PROTOCOL or EX_WRITE once the session cannot go on */
    int session_written;        /* session.json is in the archive: the probes are in */
    int discard;                /* main.c: nothing recorded, remove the .partial */
    int out_closed;             /* -o -: stdout's reader went away */
    int odd_detach;             /* the agent detached for a reason we do not know */
    char error[512];            /* the protocol violation, for the summary */
    char *agent_stats;          /* the agent's final counts (JSON) */
    int64_t start_ns_wall, start_mono;
    long long last_drops;
    int counts_cycles;          /* some probe counts cycles (monitor, thread, top): lines carry one */
    struct keep_ring *ring;     /* --ring: records kept here until the end (buffer_policy.c) */
    long long seen_records;     /* --ring: every record the agent sent */
    int snapshots;              /* --ring: SIGUSR1 snapshots written */
    struct session_holder *holder;   /* --detach (session_holder.c) */
    struct forks_state *forks;  /* --follow-forks (follow_forks.h), else NULL */
    int defer_session;          /* session.json waits for the children -p found (follow_forks.c) */
    int session_due;            /* and is still to be written */
} recording;

extern volatile sig_atomic_t g_stop_signal;

/* Returns an EX_* code. */
int recording_run(recording *r, char *err, size_t errlen);
char *recording_session_json(const recording *r);
/* A recording whose records peeka-rec makes itself, read from outside the
 * process with no agent (remote_dump.c, remote_top.c): begin writes
 * session.json; the records go through recording_take_records (probe 1's,
 * checked like an agent's); end writes the summary with `reason`.  EX_*
 * codes.  recording_of_records is the three for one batch of lines. */
int recording_outside_begin(recording *r, char *err, size_t errlen);
int recording_outside_end(recording *r, rec_end reason, char *err, size_t errlen);
int recording_of_records(recording *r, const char *jsonl, size_t len, char *err, size_t errlen);
/* summary.json for aw (the recording's archive, or a snapshot's); reason
 * NULL: rec_end_name(r->reason). */
char *recording_summary_json(recording *r, peeka_aw *aw, const char *reason);
/* Counts whole record lines as kept: per probe, monitor cycles, records. */
void recording_count(recording *r, const uint8_t *data, size_t len);
/* The progress line shown on a terminal (and to an attached client). */
void recording_progress(const recording *r, int64_t now, char *out, size_t n);
/* A RECORDS body from any agent connection (follow_forks.c): checked,
 * counted, written; 0, or -1 with r->fail set. */
int recording_take_records(recording *r, const uint8_t *data, uint32_t len, char *err, size_t errlen);
/* A RECORDS or SEGMENTS frame from agent connection c (the target's, or a
 * followed child's: each has its own segments); the same results. */
int recording_take_wire(recording *r, agent_conn *c, uint8_t type, const uint8_t *body,
                        uint32_t len, char *err, size_t errlen);
/* Installs the recording's probes through another agent connection (an
 * adopted child, follow_forks.c); an EX_* code. */
int recording_install_on(recording *r, agent_conn *c, char *err, size_t errlen);

#endif
