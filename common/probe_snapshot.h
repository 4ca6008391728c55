/* What the snapshot probes (memory, logger, inspect, sc, sm) need beyond
 * their options' types and ranges, shared by peeka-rec (a usage error
 * before the target is touched) and the agent (the same check on the
 * request). */
#ifndef PEEKA_PROBE_SNAPSHOT_H
#define PEEKA_PROBE_SNAPSHOT_H

#include <stddef.h>

#include "probe_values.h"

int pt_is_snapshot(int kind);
/* Does the probe change something for the whole recording (logger set
 * and --capture, memory top and diff) rather than take one snapshot? */
int pt_snapshot_lasts(const pt_values *v);
/* The records the recording waits for before it may end by count: 1 for
 * a snapshot, -1 (none) for a probe that lasts, its -n for a capture. */
long long pt_snapshot_times(const pt_values *v);
/* Options that only make sense together: 0, or -1 with a message. */
int pt_snapshot_check(const pt_values *v, char *err, size_t errlen);

#endif
