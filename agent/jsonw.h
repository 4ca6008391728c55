/* A bounded JSON text writer: the agent's records are built with it on the
 * hot path, so it appends into one growable buffer with a hard ceiling and
 * remembers overflow instead of failing at every call. */
#ifndef PEEKA_JSONW_H
#define PEEKA_JSONW_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct fmt_opts;

typedef struct {
    char *buf;
    size_t len, cap, limit;
    int overflow;   /* the record hit `limit`; its text is incomplete */
    /* What references to segments (segments.h) add when peeka-rec expands
     * them: the record's limit holds for its expanded length, len + extra. */
    size_t extra;
    /* How the record being written formats values (format.c: its probe's
     * limits and redaction rules), or NULL for the defaults.  They travel
     * with the writer because formatting may let the GIL go (a finaliser
     * runs), and another thread formats for another probe meanwhile. */
    const struct fmt_opts *fmt;
    int clean_text;   /* strings get `key=value` redaction too (--record values) */
} jsonw;

int  jsonw_init(jsonw *w, size_t initial, size_t limit);
void jsonw_free(jsonw *w);
void jsonw_reset(jsonw *w);

/* Grows the buffer for n more bytes; 0 when the record hit its limit. */
int jsonw_grow(jsonw *w, size_t n);

/* The appends run several dozen times per record: inline fast paths. */
static inline void jsonw_raw(jsonw *w, const char *s, size_t n)
{
    if (w->len + n <= w->cap || jsonw_grow(w, n)) {
        memcpy(w->buf + w->len, s, n);
        w->len += n;
    }
}

static inline void jsonw_char(jsonw *w, char c)
{
    if (w->len < w->cap || jsonw_grow(w, 1))
        w->buf[w->len++] = c;
}

#define jsonw_lit(w, s) jsonw_raw((w), (s), sizeof(s) - 1)

/* The record is over its limit, as written or as peeka-rec will expand it. */
static inline int jsonw_over(const jsonw *w)
{
    return w->overflow || w->len + w->extra > w->limit;
}
void jsonw_i64(jsonw *w, int64_t v);
void jsonw_u64(jsonw *w, uint64_t v);
/* Finite doubles only; ndigits after the point, trailing zeros kept short. */
void jsonw_fixed(jsonw *w, double v, int ndigits);
/* A quoted JSON string of UTF-8 text s[0..n); invalid bytes become U+FFFD. */
void jsonw_str(jsonw *w, const char *s, size_t n);
/* `,"key":` or `"key":` depending on `first`. */
void jsonw_key(jsonw *w, const char *key, int first);

#endif
