/* The buffer between application threads and the agent's sender thread.
 *
 * Producers are application threads inside a hook; they always hold the GIL,
 * so there is exactly one producer at a time and the ring can be a simple
 * single-producer/single-consumer queue.  The consumer is the agent thread,
 * which never holds the GIL while draining.  A full ring refuses the
 * record: the caller drops and counts it, or with --lossless waits for
 * room with the GIL released (emit.c); the ring itself never waits. */
#ifndef PEEKA_RING_H
#define PEEKA_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *data;
    size_t size;                 /* power of two */
    _Atomic uint64_t head;       /* next byte the consumer reads */
    _Atomic uint64_t tail;       /* next byte the producer writes */
} ring;

int  ring_init(ring *r, size_t size);
void ring_free(ring *r);
/* Copies one record in; 0 on success, -1 if it does not fit now.  full:
 * its length once peeka-rec has expanded its segment references
 * (segments.h), len without any. */
int  ring_push(ring *r, const void *rec, size_t len, size_t full);
/* Copies whole records out into dst, records never split, as many as
 * expand to at most cap bytes (so the batch peeka-rec expands is at most
 * cap too); returns the bytes copied, 0 if empty.  A record larger than
 * cap is impossible: push refuses records whose full length is over
 * ring_max_record() (size/4, at most PEEKA_BATCH_MAX) and callers pass
 * cap >= that. */
size_t ring_pop(ring *r, uint8_t *dst, size_t cap);
size_t ring_max_record(const ring *r);
int  ring_empty(ring *r);
/* Bytes in use; safe from any thread (a heuristic while producers run). */
size_t ring_used(ring *r);

#endif
