#include "keep_ring.h"

#include <stdlib.h>
#include <string.h>

struct keep_ring {
    uint8_t *buf;
    size_t size;
    size_t head;        /* the oldest kept line starts here */
    size_t used;        /* bytes from head, wrapping */
    uint64_t lines, overwritten;
};

keep_ring *keep_ring_new(size_t size)
{
    keep_ring *k = calloc(1, sizeof *k);
    if (!k || !(k->buf = malloc(size))) {
        free(k);
        return NULL;
    }
    k->size = size;
    return k;
}

void keep_ring_free(keep_ring *k)
{
    if (k) {
        free(k->buf);
        free(k);
    }
}

/* Lets the oldest line go: its '\n' is within the used bytes, either
 * before the buffer's end or, wrapped, after its start. */
static void evict_oldest(keep_ring *k)
{
    size_t first = k->size - k->head < k->used ? k->size - k->head : k->used;
    const uint8_t *nl = memchr(k->buf + k->head, '\n', first);
    size_t n = nl ? (size_t)(nl - (k->buf + k->head)) + 1
                  : first + (size_t)((const uint8_t *)memchr(k->buf, '\n', k->used - first) - k->buf) + 1;
    k->head = (k->head + n) % k->size;
    k->used -= n;
    k->lines--;
    k->overwritten++;
}

static void put(keep_ring *k, const uint8_t *line, size_t n)
{
    size_t at = (k->head + k->used) % k->size;
    size_t first = k->size - at < n ? k->size - at : n;
    memcpy(k->buf + at, line, first);
    memcpy(k->buf, line + first, n - first);
    k->used += n;
    k->lines++;
}

void keep_ring_add(keep_ring *k, const uint8_t *lines, size_t len)
{
    for (const uint8_t *p = lines, *end = lines + len; p < end;) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        if (n > k->size) {
            k->overwritten++;
        } else {
            while (k->used + n > k->size)
                evict_oldest(k);
            put(k, p, n);
        }
        p += n;
    }
}

int keep_ring_each(const keep_ring *k, int (*fn)(void *ctx, const uint8_t *lines, size_t len),
                   void *ctx)
{
    if (!k->used)
        return 0;
    size_t first = k->size - k->head < k->used ? k->size - k->head : k->used;
    const uint8_t *a = k->buf + k->head;
    if (first == k->used)
        return fn(ctx, a, first);
    /* the line cut by the buffer's end: its start ends piece a, its rest
     * begins piece b */
    size_t whole = first;
    while (whole && a[whole - 1] != '\n')
        whole--;
    size_t rest = k->used - first;
    size_t tail = (size_t)((const uint8_t *)memchr(k->buf, '\n', rest) - k->buf) + 1;
    int rc = whole ? fn(ctx, a, whole) : 0;
    if (rc == 0 && first > whole) {
        size_t n = first - whole + tail;
        uint8_t *line = malloc(n);
        if (!line)
            return -1;
        memcpy(line, a + whole, first - whole);
        memcpy(line + first - whole, k->buf, tail);
        rc = fn(ctx, line, n);
        free(line);
    } else if (rc == 0) {
        tail = 0;   /* the cut fell between two lines */
    }
    if (rc == 0 && rest > tail)
        rc = fn(ctx, k->buf + tail, rest - tail);
    return rc;
}

uint64_t keep_ring_lines(const keep_ring *k) { return k->lines; }
uint64_t keep_ring_bytes(const keep_ring *k) { return k->used; }
uint64_t keep_ring_overwritten(const keep_ring *k) { return k->overwritten; }
size_t keep_ring_size(const keep_ring *k) { return k->size; }
