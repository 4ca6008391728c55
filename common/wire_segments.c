/* The recorder's half of the compact wire form (wire_segments.h): the
 * agent is not trusted, so every definition and reference is checked
 * against the limits before a byte of it is used. */
#include "wire_segments.h"
#include "peeka_limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void peeka_segs_free(peeka_segs *t)
{
    free(t->bytes);
    free(t->out);
    memset(t, 0, sizeof *t);
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static int bytes_ok(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!peeka_seg_byte_ok(p[i]))
            return 0;
    return 1;
}

/* The definition at body[off]; its length in *seglen.  0, or -1 with why. */
static int check_def(const uint8_t *body, size_t len, size_t off,
                     uint32_t id_want, size_t used, uint16_t *seglen, char *why, size_t whylen)
{
    if (len - off < PEEKA_SEG_DEF_HDR) {
        snprintf(why, whylen, "a SEGMENTS frame ends inside a definition's header");
        return -1;
    }
    uint16_t id = le16(body + off), n = le16(body + off + 2);
    if (id != id_want) {
        snprintf(why, whylen, "a SEGMENTS frame defines segment %u where %u was next", id, id_want);
        return -1;
    }
    if (id >= PEEKA_SEG_MAX) {
        snprintf(why, whylen, "a SEGMENTS frame defines segment %u (at most %u segments)", id,
                 PEEKA_SEG_MAX);
        return -1;
    }
    if (n < PEEKA_SEG_LEN_MIN || n > PEEKA_SEG_LEN_MAX) {
        snprintf(why, whylen, "segment %u is %u bytes (%u..%u)", id, n, PEEKA_SEG_LEN_MIN,
                 PEEKA_SEG_LEN_MAX);
        return -1;
    }
    if (len - off - PEEKA_SEG_DEF_HDR < n) {
        snprintf(why, whylen, "a SEGMENTS frame ends inside segment %u", id);
        return -1;
    }
    if (used + n > PEEKA_SEG_BYTES_MAX) {
        snprintf(why, whylen, "segment %u takes the segments past %u bytes", id, PEEKA_SEG_BYTES_MAX);
        return -1;
    }
    if (!bytes_ok(body + off + PEEKA_SEG_DEF_HDR, n)) {
        snprintf(why, whylen, "segment %u holds a NUL, newline or reference byte", id);
        return -1;
    }
    *seglen = n;
    return 0;
}

int peeka_segs_define(peeka_segs *t, const uint8_t *body, size_t len, char *why, size_t whylen)
{
    if (len == 0) {
        snprintf(why, whylen, "a SEGMENTS frame defines nothing");
        return -1;
    }
    /* checked whole first: a bad frame changes nothing */
    uint32_t id = t->n;
    size_t used = t->used;
    for (size_t off = 0; off < len; id++) {
        uint16_t n;
        if (check_def(body, len, off, id, used, &n, why, whylen) < 0)
            return -1;
        off += PEEKA_SEG_DEF_HDR + n;
        used += n;
    }
    if (!t->bytes && !(t->bytes = malloc(PEEKA_SEG_BYTES_MAX))) {
        snprintf(why, whylen, "out of memory for segments");
        return -1;
    }
    for (size_t off = 0; off < len;) {
        uint16_t n = le16(body + off + 2);
        memcpy(t->bytes + t->used, body + off + PEEKA_SEG_DEF_HDR, n);
        t->off[t->n] = (uint32_t)t->used;
        t->len[t->n++] = n;
        t->used += n;
        off += PEEKA_SEG_DEF_HDR + n;
    }
    return 0;
}

/* Room for n more expanded bytes after `have`; 0, or -1 past the limit. */
static int grow(peeka_segs *t, size_t have, size_t n, size_t hint, char *why, size_t whylen)
{
    if (have + n > PEEKA_BATCH_MAX) {
        snprintf(why, whylen, "a RECORDS frame expands to more than %u bytes", PEEKA_BATCH_MAX);
        return -1;
    }
    size_t cap = t->out_cap ? t->out_cap : hint;
    while (cap < have + n)
        cap *= 2;
    if (cap > PEEKA_BATCH_MAX)
        cap = PEEKA_BATCH_MAX;
    uint8_t *b = realloc(t->out, cap);
    if (!b) {
        snprintf(why, whylen, "out of memory expanding a RECORDS frame");
        return -1;
    }
    t->out = b;
    t->out_cap = cap;
    return 0;
}

/* The buffer never exceeds PEEKA_BATCH_MAX, so fitting in it is within
 * the limit: one compare per piece on the hot path. */
static inline int room(peeka_segs *t, size_t have, size_t n, size_t hint, char *why, size_t whylen)
{
    return have + n <= t->out_cap ? 0 : grow(t, have, n, hint, why, whylen);
}

/* The next reference byte in [p, end), or NULL.  Between references a
 * record's literal runs are short (a number or two): a loop finds the
 * byte sooner than a call to memchr, which takes over for long runs. */
static inline const uint8_t *next_ref(const uint8_t *p, const uint8_t *end)
{
    for (int i = 0; i < 32 && p < end; i++, p++)
        if (*p == PEEKA_SEG_REF)
            return p;
    return p < end ? memchr(p, PEEKA_SEG_REF, (size_t)(end - p)) : NULL;
}

/* The id of the reference at p (PEEKA_SEG_REF_LEN bytes), or -1. */
static long ref_id(const peeka_segs *t, const uint8_t *p)
{
    if (!(p[1] & 0x80) || !(p[2] & 0x80))
        return -1;
    unsigned id = (unsigned)(p[1] & 0x7f) | (unsigned)(p[2] & 0x7f) << 7;
    return id < t->n ? (long)id : -1;
}

int peeka_segs_expand(peeka_segs *t, const uint8_t *body, size_t len, const uint8_t **out,
                      size_t *outlen, char *why, size_t whylen)
{
    const uint8_t *p = body, *end = body + len;
    const uint8_t *q = memchr(p, PEEKA_SEG_REF, len);
    if (!q) {
        *out = body;
        *outlen = len;
        return 0;
    }
    size_t have = 0, hint = len < 65536 ? 262144 : 4 * len;
    for (; q; q = next_ref(p, end)) {
        long id = end - q >= PEEKA_SEG_REF_LEN ? ref_id(t, q) : -1;
        if (id < 0) {
            snprintf(why, whylen, "a RECORDS frame refers to a segment that is not defined");
            return -1;
        }
        size_t lit = (size_t)(q - p), n = t->len[id];
        if (room(t, have, lit + n, hint, why, whylen) < 0)
            return -1;
        memcpy(t->out + have, p, lit);   /* out is allocated: room made space for n > 0 */
        memcpy(t->out + have + lit, t->bytes + t->off[id], n);
        have += lit + n;
        p = q + PEEKA_SEG_REF_LEN;
    }
    size_t lit = (size_t)(end - p);
    if (room(t, have, lit, hint, why, whylen) < 0)
        return -1;
    if (lit)
        memcpy(t->out + have, p, lit);
    *out = t->out;
    *outlen = have + lit;
    return 0;
}
