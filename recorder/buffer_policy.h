/* What peeka-rec does with the records it receives (the buffer policy):
 * stream them into the archive (the default, flushed every --flush-period
 * and on SIGUSR1), or keep only the newest --ring SIZE of them and write
 * them when the recording ends (SIGUSR1: a snapshot archive meanwhile). */
#ifndef PEEKA_BUFFER_POLICY_H
#define PEEKA_BUFFER_POLICY_H

#include <cJSON.h>
#include "keep_ring.h"
#include "recording.h"

/* --ring: the ring, before the first record.  0 ok, -1 with a message. */
int policy_start(recording *r, char *err, size_t errlen);
void policy_free(recording *r);
/* --ring: whole, checked lines into the ring (always 0). */
int policy_keep(recording *r, const uint8_t *data, size_t len);
/* Once per pass of the recording's loop: SIGUSR1, and a detached
 * session's clients.  END_NONE to go on. */
rec_end policy_tick(recording *r, int64_t now, char *err, size_t errlen);
/* --ring: the kept records into the archive, counted as its records.
 * 0 ok, -1 with a message. */
int policy_finish(recording *r, char *err, size_t errlen);
/* summary.json's "policy". */
void policy_summary(const recording *r, cJSON *summary);

#endif
