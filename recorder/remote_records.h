/* The pieces of the records peeka-rec writes itself from what it read
 * outside the process (remote_dump.c: thread, remote_top.c: top), shaped as
 * the agent's (agent/observe.c write_head, agent/pyframes.c). */
#ifndef PEEKA_REMOTE_RECORDS_H
#define PEEKA_REMOTE_RECORDS_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "options.h"
#include "remote_stacks.h"

/* type, kind, probe_id, cycle, seq, ts_ns, timestamp, func_name (null). */
cJSON *rr_head(const char *kind, const probe_spec *p, long long cycle, long long seq, int64_t wall);
/* An integer too big for a double, exactly. */
void rr_add_u64(cJSON *o, const char *key, uint64_t v);
/* {"filename", "lineno", "function", "code_context": null} */
cJSON *rr_frame(const rs_snapshot *s, const rs_frame *f);
/* th's kept frames, innermost first, as o's "stack". */
void rr_add_stack(cJSON *o, const rs_snapshot *s, const rs_thread *th);
/* rec (deleted) as one more JSONL line of *out (malloc'd, *len long):
 * 0, or -1 out of memory. */
int rr_append(char **out, size_t *len, cJSON *rec);
/* CLOCK_REALTIME in ns. */
int64_t rr_wall_now(void);

#endif
