/* The compact wire form of RECORDS (docs/protocol.md "Segments"): byte
 * strings that recur in every record (a probe's head, a function's
 * location and parameter names, a thread's id and name) are defined once
 * per connection in SEGMENTS frames, and a RECORDS body refers to them by
 * id.  peeka-rec expands a body back to the JSONL it would have received
 * otherwise before it checks and keeps it, so the archive does not change.
 *
 * A reference is PEEKA_SEG_REF followed by the id in two bytes, each with
 * its high bit set (seven bits of the id each, low part first): JSON text
 * never holds a raw control character (jsonw escapes them), and the id
 * bytes are never NUL, '\n' or PEEKA_SEG_REF, so a compact body still
 * splits into lines at '\n'. */
#ifndef PEEKA_WIRE_SEGMENTS_H
#define PEEKA_WIRE_SEGMENTS_H

#include <stddef.h>
#include <stdint.h>

#include "peeka_limits.h"

#define PEEKA_SEG_REF       0x01
#define PEEKA_SEG_REF_LEN   3             /* the byte, then two id bytes */
#define PEEKA_SEG_MAX       4096          /* segments per connection (ids 0..MAX-1) */
#define PEEKA_SEG_LEN_MIN   4             /* shorter would expand to less than the reference */
#define PEEKA_SEG_LEN_MAX   2048          /* one segment's bytes */
#define PEEKA_SEG_BYTES_MAX (1u << 20)    /* all of one connection's segments */
#define PEEKA_SEG_DEF_HDR   4             /* a definition: u16 id, u16 length (LE), bytes */

/* Every definition fits one SEGMENTS frame. */
_Static_assert(PEEKA_SEG_MAX * PEEKA_SEG_DEF_HDR + PEEKA_SEG_BYTES_MAX <= PEEKA_FRAME_MAX,
               "segments: all definitions must fit PEEKA_FRAME_MAX");
_Static_assert(PEEKA_SEG_MAX <= (1u << 14), "segments: ids have 14 bits");

static inline void peeka_seg_ref(uint8_t out[PEEKA_SEG_REF_LEN], unsigned id)
{
    out[0] = PEEKA_SEG_REF;
    out[1] = (uint8_t)(0x80 | (id & 0x7f));
    out[2] = (uint8_t)(0x80 | ((id >> 7) & 0x7f));
}

/* Bytes a segment may not hold: they frame references and lines. */
static inline int peeka_seg_byte_ok(uint8_t c)
{
    return c != 0 && c != '\n' && c != PEEKA_SEG_REF;
}

/* The recorder's table of one connection's segments, and the buffer a
 * batch is expanded into (it grows up to PEEKA_BATCH_MAX). */
typedef struct peeka_segs {
    uint32_t n;                       /* defined: ids 0..n-1 */
    size_t used;                      /* bytes of all of them */
    uint32_t off[PEEKA_SEG_MAX];
    uint16_t len[PEEKA_SEG_MAX];
    uint8_t *bytes;                   /* PEEKA_SEG_BYTES_MAX, from the first definition */
    uint8_t *out;
    size_t out_cap;
} peeka_segs;

void peeka_segs_free(peeka_segs *t);
/* One SEGMENTS body: definitions of the next ids, in order.  0, or -1 with
 * why (nothing of a bad body is kept). */
int peeka_segs_define(peeka_segs *t, const uint8_t *body, size_t len, char *why, size_t whylen);
/* A RECORDS body with its references replaced by their bytes.  *out is
 * the body itself when it holds none, else t's buffer (valid until the
 * next call).  -1 with why for an undefined id, a cut reference, a batch
 * that would expand beyond PEEKA_BATCH_MAX, or no memory. */
int peeka_segs_expand(peeka_segs *t, const uint8_t *body, size_t len, const uint8_t **out,
                      size_t *outlen, char *why, size_t whylen);

#endif
