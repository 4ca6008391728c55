/* The agent's half of the compact wire form (common/wire_segments.h,
 * docs/protocol.md "Segments"): byte strings that recur in records are
 * interned once and written as 3-byte references, when WELCOME asked for
 * it.  Callers keep a seg_slot next to what the bytes come from (a probe,
 * a hooked function, a thread), so the hot path does no lookup: the slot
 * is valid for one table generation, which a new session or a followed
 * fork's new connection starts afresh.
 *
 * Interning takes a lock and publishes the segment with release order;
 * the agent thread reads the count with acquire after it popped a batch,
 * so a record it sends never refers to a segment it has not defined. */
#ifndef PEEKA_SEGMENTS_H
#define PEEKA_SEGMENTS_H

#include "jsonw.h"
#include "wire_segments.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SEG_LITERAL 0xffff   /* the table was full: these bytes go literally */

typedef struct {
    uint32_t gen;    /* the table generation the id belongs to; 0: none */
    uint16_t id;     /* or SEG_LITERAL */
    uint16_t len;
} seg_slot;

/* 0 while records are literal JSON (no WELCOME asked, or no session). */
extern atomic_uint g_seg_gen;

/* What slot s holds in this session: 1 a reference, 0 write the bytes
 * literally, -1 nothing yet (intern them). */
static inline int seg_state(const seg_slot *s)
{
    unsigned g = atomic_load_explicit(&g_seg_gen, memory_order_relaxed);
    if (!g)
        return 0;
    if (s->gen != g)
        return -1;
    return s->id != SEG_LITERAL;
}

/* Writes the reference of s (seg_state 1). */
static inline void seg_put(jsonw *w, const seg_slot *s)
{
    uint8_t r[PEEKA_SEG_REF_LEN];
    peeka_seg_ref(r, s->id);
    jsonw_raw(w, (const char *)r, sizeof r);
    w->extra += (size_t)s->len - PEEKA_SEG_REF_LEN;
}

/* Interns b[0..n) into s; 1 when s now holds a reference, 0 when the
 * bytes must go literally (too short, too long, a forbidden byte, the
 * table full: then s says so for the rest of the session). */
int seg_intern(seg_slot *s, const char *b, size_t n);

/* b[0..n), constant for the slot's lifetime: as a reference, interned
 * the first time, or literally.  Inline: it runs several times per record. */
static inline void seg_write(jsonw *w, seg_slot *s, const char *b, size_t n)
{
    int st = seg_state(s);
    if (st < 0)
        st = seg_intern(s, b, n);
    if (st)
        seg_put(w, s);
    else
        jsonw_raw(w, b, n);
}
#define seg_lit(w, s, lit) seg_write((w), (s), (lit), sizeof(lit) - 1)

/* Bytes that build writes (without side effects: it is called again to
 * write them literally when they cannot be a segment), as a reference
 * when the session speaks segments, built and interned the first time. */
typedef void (*seg_builder)(jsonw *w, const void *ctx);
void seg_built(jsonw *w, seg_slot *s, seg_builder build, const void *ctx);

/* The agent thread, after reading WELCOME: segments or literal JSON. */
void seg_enable(int on);
/* The agent thread, before it sends records: a SEGMENTS frame with the
 * definitions interned since the last one, through send.  0, or -1 when
 * send failed. */
int seg_send_new(int (*send)(uint8_t type, const void *body, size_t len));
/* In a forked child (GIL held, the only thread): following, its connection
 * is new, so is its table (records name its own pid); else none. */
void seg_after_fork(int follow);
/* The session is over (agent thread): records are literal again. */
void seg_end(void);

#endif
