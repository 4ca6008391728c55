/* The size limits the agent, the framing and the archive writer share
 * (docs/protocol.md "Limits", docs/format.md).  How they relate:
 *
 *   PEEKA_RECORD_MAX  <=  PEEKA_BATCH_MAX  <=  PEEKA_FRAME_MAX
 *
 * - A record (one JSONL line, its '\n' included) is at most PEEKA_RECORD_MAX:
 *   the agent's per-thread writers stop there (agent/emit.c) and the ring
 *   refuses anything larger (agent/ring.c); with segment references
 *   (wire_segments.h) these hold for the text peeka-rec expands them to.
 * - The agent sends records in RECORDS frames of whole lines; a frame's body
 *   (a batch) is at most PEEKA_BATCH_MAX, whatever --buffer is: the ring's
 *   largest record and the agent's send buffer are min(ring/4, BATCH_MAX).
 * - A receiver refuses any frame body over PEEKA_FRAME_MAX.
 * - The archive writer cuts a batch at line boundaries into data members of
 *   at most PEEKA_CHUNK_BYTES; a single line longer than that (possible:
 *   CHUNK_BYTES <= RECORD_MAX) gets a member of its own, so a data member is
 *   never larger than max(CHUNK_BYTES, RECORD_MAX).  No batch size can fail. */
#ifndef PEEKA_LIMITS_H
#define PEEKA_LIMITS_H

#define PEEKA_RECORD_MAX  (1u << 20)   /* one observation record */
#define PEEKA_FRAME_MAX   (4u << 20)   /* largest frame body either side accepts */
#define PEEKA_BATCH_MAX   PEEKA_FRAME_MAX   /* largest RECORDS body the agent sends */
#define PEEKA_CHUNK_BYTES (1u << 20)   /* a data member closes at this size */
/* The agent's ring when --buffer is not given: 40 ms of literal records
 * at a million a second, about 180 ms in the compact wire form
 * (wire_segments.h), slack for the sender and peeka-rec being descheduled
 * on a busy machine (4 MiB dropped several times more in an A/B:
 * docs/architecture.md "Where the time goes"). */
#define PEEKA_BUFFER_DEFAULT (16u << 20)

#if PEEKA_RECORD_MAX > PEEKA_BATCH_MAX || PEEKA_BATCH_MAX > PEEKA_FRAME_MAX
#error "peeka limits: need RECORD_MAX <= BATCH_MAX <= FRAME_MAX"
#endif

#endif
