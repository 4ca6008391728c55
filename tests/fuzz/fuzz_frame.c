/* libFuzzer target for common/frame.c.  Input: one byte choosing the size
 * limit, one seeding the read sizes, then the byte stream.  The incremental
 * decoder, fed in irregular chunks, must agree with a direct walk over the
 * whole stream, and its buffer must stay within HDR + limit. */
#include "frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond) do { if (!(cond)) { \
    fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); abort(); } } while (0)

typedef struct {
    int rc;                     /* 1 frame, 0 need more, < 0 error */
    uint8_t type;
    const uint8_t *body;
    uint32_t len;
} expect;

/* The reference: what the stream holds at offset *off. */
static expect walk(const uint8_t *s, size_t n, size_t *off, uint32_t max)
{
    expect e = { 0 };
    if (n - *off < PEEKA_FRAME_HDR)
        return e;
    uint32_t len;
    uint8_t type;
    e.rc = peeka_frame_parse(s + *off, max, &len, &type);
    if (e.rc < 0)
        return e;
    if (n - *off - PEEKA_FRAME_HDR < len)
        return e;
    e.rc = 1;
    e.type = type;
    e.len = len;
    e.body = s + *off + PEEKA_FRAME_HDR;
    *off += PEEKA_FRAME_HDR + (size_t)len;
    return e;
}

static size_t next_chunk(uint32_t *rng)
{
    *rng = *rng * 1103515245u + 12345u;
    uint32_t r = *rng >> 16;
    /* Mostly small reads, now and then a large one. */
    return (r & 7) == 0 ? 1 + (r % 5000) : 1 + (r % 17);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint32_t max = (uint32_t)data[0] * 17u;
    uint32_t rng = data[1];
    const uint8_t *s = data + 2;
    size_t n = size - 2;

    peeka_fdec d;
    CHECK(peeka_fdec_init(&d, max) == 0);
    size_t fed = 0, ref_off = 0;
    int done = 0;
    while (!done) {
        size_t room;
        uint8_t *dst = peeka_fdec_space(&d, &room);
        /* Short of a whole frame, there is always room for more. */
        CHECK(room > 0 || fed == n);
        size_t want = next_chunk(&rng);
        if (want > n - fed)
            want = n - fed;
        if (want > room)
            want = room;
        memcpy(dst, s + fed, want);
        peeka_fdec_commit(&d, want);
        fed += want;
        for (;;) {
            uint8_t type = 0;
            const uint8_t *body = NULL;
            uint32_t len = 0;
            int rc = peeka_fdec_next(&d, &type, &body, &len);
            expect e = walk(s, fed, &ref_off, max);
            CHECK(d.cap <= PEEKA_FRAME_HDR + (size_t)max);
            CHECK(rc == e.rc);
            if (rc < 0) {
                /* Errors stick. */
                CHECK(peeka_fdec_next(&d, &type, &body, &len) == rc);
                done = 1;
                break;
            }
            if (rc == 0)
                break;
            CHECK(type == e.type && len == e.len);
            CHECK(len == 0 || memcmp(body, e.body, len) == 0);
            CHECK(body >= d.buf && body + len <= d.buf + d.len);
        }
        if (fed == n && !done) {
            /* The stream ends: whatever was not a whole frame is pending. */
            CHECK(d.len - d.consumed == n - ref_off);
            done = 1;
        }
    }
    peeka_fdec_free(&d);

    /* The header codec round-trips whatever it accepts. */
    if (n >= PEEKA_FRAME_HDR) {
        uint32_t len;
        uint8_t type, again[PEEKA_FRAME_HDR];
        if (peeka_frame_parse(s, 0xFFFFFFFFu, &len, &type) == PFE_OK) {
            peeka_frame_header(again, len, type);
            CHECK(memcmp(again, s, PEEKA_FRAME_HDR) == 0);
        }
    }
    return 0;
}
