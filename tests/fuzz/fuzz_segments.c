/* libFuzzer target for common/wire_segments.c, the recorder's half of the
 * compact wire form.  Input: a sequence of frames, each a byte (even:
 * SEGMENTS, odd: RECORDS), a 16-bit little-endian length and that many
 * bytes.  A refused definition must leave the table as it was; an
 * accepted expansion must hold no reference byte and equal a naive
 * expansion done here; nothing may read or write out of bounds. */
#include "wire_segments.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond) do { if (!(cond)) { \
    fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); abort(); } } while (0)

/* The reference: byte by byte; -1 where the expander must refuse. */
static long naive(const peeka_segs *t, const uint8_t *b, size_t n, uint8_t *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if (b[i] != PEEKA_SEG_REF) {
            if (k == cap)
                return -1;
            out[k++] = b[i++];
            continue;
        }
        if (n - i < PEEKA_SEG_REF_LEN || !(b[i + 1] & 0x80) || !(b[i + 2] & 0x80))
            return -1;
        unsigned id = (unsigned)(b[i + 1] & 0x7f) | (unsigned)(b[i + 2] & 0x7f) << 7;
        if (id >= t->n || cap - k < t->len[id])
            return -1;
        memcpy(out + k, t->bytes + t->off[id], t->len[id]);
        k += t->len[id];
        i += PEEKA_SEG_REF_LEN;
    }
    return (long)k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t ref[PEEKA_BATCH_MAX];
    peeka_segs *t = calloc(1, sizeof *t);
    CHECK(t);
    char why[200];
    for (size_t at = 0; size - at >= 3;) {
        int kind = data[at] & 1;
        size_t n = (size_t)(data[at + 1] | data[at + 2] << 8);
        at += 3;
        if (n > size - at)
            n = size - at;
        const uint8_t *body = data + at;
        at += n;
        if (kind == 0) {
            uint32_t before = t->n;
            size_t used = t->used;
            if (peeka_segs_define(t, body, n, why, sizeof why) < 0) {
                CHECK(t->n == before && t->used == used);
                CHECK(why[0]);
            } else {
                CHECK(t->n > before && t->n <= PEEKA_SEG_MAX && t->used <= PEEKA_SEG_BYTES_MAX);
                for (uint32_t i = before; i < t->n; i++)
                    CHECK(t->len[i] >= PEEKA_SEG_LEN_MIN && t->len[i] <= PEEKA_SEG_LEN_MAX);
            }
            continue;
        }
        const uint8_t *out;
        size_t on;
        long want = naive(t, body, n, ref, sizeof ref);
        int rc = peeka_segs_expand(t, body, n, &out, &on, why, sizeof why);
        CHECK((rc == 0) == (want >= 0));
        if (rc == 0) {
            CHECK(on == (size_t)want && on <= PEEKA_BATCH_MAX);
            CHECK(!memchr(out, PEEKA_SEG_REF, on));
            CHECK(memcmp(out, ref, on) == 0);
        }
    }
    peeka_segs_free(t);
    free(t);
    return 0;
}
