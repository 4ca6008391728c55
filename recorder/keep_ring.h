/* --ring SIZE: the newest whole JSONL lines whose bytes sum to at most
 * SIZE, in a circular buffer of exactly SIZE bytes; the oldest lines go
 * when a new one needs their room. */
#ifndef PEEKA_KEEP_RING_H
#define PEEKA_KEEP_RING_H

#include <stddef.h>
#include <stdint.h>

typedef struct keep_ring keep_ring;

keep_ring *keep_ring_new(size_t size);
void keep_ring_free(keep_ring *k);
/* Whole lines (len bytes ending in '\n'); a line longer than SIZE is never
 * kept and, like the lines it would evict, counted as overwritten. */
void keep_ring_add(keep_ring *k, const uint8_t *lines, size_t len);
/* Calls fn with the kept lines, oldest first, in pieces of whole lines;
 * stops at fn's first non-zero result and returns it.  A line that wraps
 * around the buffer's end is copied whole into a scratch buffer first
 * (-1 if that allocation fails). */
int keep_ring_each(const keep_ring *k, int (*fn)(void *ctx, const uint8_t *lines, size_t len),
                   void *ctx);
uint64_t keep_ring_lines(const keep_ring *k);        /* kept now */
uint64_t keep_ring_bytes(const keep_ring *k);        /* kept now */
uint64_t keep_ring_overwritten(const keep_ring *k);  /* lines let go */
size_t keep_ring_size(const keep_ring *k);

#endif
