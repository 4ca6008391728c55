#include "ring.h"
#include "peeka_limits.h"

#include <stdlib.h>
#include <string.h>

/* Each record is a 4-byte length, the 4-byte length it expands to, then
 * its bytes, padded to 4.  A length of WRAP means "continue at offset 0":
 * records are never split across the end, so the consumer copies each
 * with one memcpy. */
#define WRAP UINT32_MAX
#define HDR 8
#define ALIGN4(n) (((n) + 3) & ~(size_t)3)

int ring_init(ring *r, size_t size)
{
    size_t s = 4096;
    while (s < size)
        s <<= 1;
    r->data = malloc(s);
    r->size = r->data ? s : 0;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    return r->data ? 0 : -1;
}

void ring_free(ring *r)
{
    free(r->data);
    r->data = NULL;
    r->size = 0;
}

/* Also the size of one drained batch (session.c sizes its send buffer by
 * it), so it is capped by the largest RECORDS frame: a bigger --buffer
 * holds more records, never larger batches (common/limits.h). */
size_t ring_max_record(const ring *r)
{
    size_t m = r->size / 4;
    return m < PEEKA_BATCH_MAX ? m : PEEKA_BATCH_MAX;
}

int ring_empty(ring *r)
{
    return atomic_load_explicit(&r->head, memory_order_acquire) ==
           atomic_load_explicit(&r->tail, memory_order_relaxed);
}

size_t ring_used(ring *r)
{
    uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);   /* first: head <= tail */
    return (size_t)(atomic_load_explicit(&r->tail, memory_order_acquire) - head);
}

int ring_push(ring *r, const void *rec, size_t len, size_t full)
{
    if (full > ring_max_record(r) || len > full)
        return -1;
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    size_t need = HDR + ALIGN4(len);
    size_t off = (size_t)(tail & (r->size - 1));
    size_t to_end = r->size - off;
    size_t skip = to_end < need ? to_end : 0;
    if (tail + skip + need - head > r->size)
        return -1;
    if (skip) {
        uint32_t w = WRAP;
        memcpy(r->data + off, &w, 4);  /* to_end >= 4: offsets stay 4-aligned */
        off = 0;
    }
    uint32_t l[2] = {(uint32_t)len, (uint32_t)full};
    memcpy(r->data + off, l, HDR);
    memcpy(r->data + off + HDR, rec, len);
    atomic_store_explicit(&r->tail, tail + skip + need, memory_order_release);
    return 0;
}

size_t ring_pop(ring *r, uint8_t *dst, size_t cap)
{
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    size_t out = 0, expanded = 0;
    while (head != tail) {
        size_t off = (size_t)(head & (r->size - 1));
        uint32_t l[2];
        memcpy(&l[0], r->data + off, 4);
        if (l[0] == WRAP) {
            head += r->size - off;
            continue;
        }
        memcpy(&l[1], r->data + off + 4, 4);
        if (expanded + l[1] > cap)
            break;
        memcpy(dst + out, r->data + off + HDR, l[0]);
        out += l[0];
        expanded += l[1];
        head += HDR + ALIGN4(l[0]);
    }
    atomic_store_explicit(&r->head, head, memory_order_release);
    return out;
}
