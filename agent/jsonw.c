#include "jsonw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int jsonw_init(jsonw *w, size_t initial, size_t limit)
{
    w->buf = malloc(initial);
    w->len = 0;
    w->cap = w->buf ? initial : 0;
    w->limit = limit;
    w->overflow = 0;
    w->extra = 0;
    w->fmt = NULL;
    w->clean_text = 0;
    return w->buf ? 0 : -1;
}

void jsonw_free(jsonw *w)
{
    free(w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
}

void jsonw_reset(jsonw *w)
{
    w->len = 0;
    w->extra = 0;
    w->overflow = 0;
}

int jsonw_grow(jsonw *w, size_t n)
{
    if (w->overflow)
        return 0;
    if (w->len + n <= w->cap)
        return 1;
    if (w->len + w->extra + n > w->limit) {
        w->overflow = 1;
        return 0;
    }
    size_t ncap = w->cap ? w->cap : 256;
    while (ncap < w->len + n)
        ncap *= 2;
    if (ncap > w->limit)
        ncap = w->limit;
    char *nb = realloc(w->buf, ncap);
    if (!nb) {
        w->overflow = 1;
        return 0;
    }
    w->buf = nb;
    w->cap = ncap;
    return 1;
}

/* Two digits per division, in 32-bit arithmetic: records carry several
 * 19-digit integers (ts_ns, thread ids), and with 64-bit divisions this
 * was the hottest function of the hot path (docs/architecture.md "Where
 * the time goes"). */
static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* v's digits, ending at end; returns where they start. */
static char *digits32(char *end, uint32_t v)
{
    while (v >= 100) {
        uint32_t r = v % 100;
        v /= 100;
        *--end = digit_pairs[2 * r + 1];
        *--end = digit_pairs[2 * r];
    }
    if (v >= 10) {
        *--end = digit_pairs[2 * v + 1];
        *--end = digit_pairs[2 * v];
    } else {
        *--end = (char)('0' + v);
    }
    return end;
}

/* Exactly 8 digits of v < 10^8, zeros in front. */
static char *digits8(char *end, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        uint32_t r = v % 100;
        v /= 100;
        *--end = digit_pairs[2 * r + 1];
        *--end = digit_pairs[2 * r];
    }
    return end;
}

void jsonw_u64(jsonw *w, uint64_t v)
{
    char tmp[24];
    char *end = tmp + sizeof tmp, *p = end;
    /* v = (top * 10^8 + mid) * 10^8 + low, each part in 32 bits */
    while (v > UINT32_MAX) {
        uint64_t q = v / 100000000;
        p = digits8(p, (uint32_t)(v - q * 100000000));
        v = q;
    }
    p = digits32(p, (uint32_t)v);
    jsonw_raw(w, p, (size_t)(end - p));
}

void jsonw_i64(jsonw *w, int64_t v)
{
    if (v < 0) {
        jsonw_char(w, '-');
        jsonw_u64(w, (uint64_t)0 - (uint64_t)v);
    } else {
        jsonw_u64(w, (uint64_t)v);
    }
}

void jsonw_fixed(jsonw *w, double v, int ndigits)
{
    char tmp[64];
    int n = snprintf(tmp, sizeof tmp, "%.*f", ndigits, v);
    if (n > 0 && (size_t)n < sizeof tmp)
        jsonw_raw(w, tmp, (size_t)n);
    else
        jsonw_char(w, '0');
}

/* Length of a valid UTF-8 sequence starting at s, or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) len = 3;
    else if (c >= 0xF0 && c <= 0xF4) len = 4;
    else return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

void jsonw_str(jsonw *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    jsonw_char(w, '"');
    while (p < end) {
        const unsigned char *run = p;
        while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        jsonw_raw(w, (const char *)run, (size_t)(p - run));
        if (p >= end)
            break;
        unsigned c = *p;
        if (c >= 0x80) {
            size_t k = utf8_seq(p, (size_t)(end - p));
            if (k) {
                jsonw_raw(w, (const char *)p, k);
                p += k;
            } else {
                jsonw_lit(w, "\\ufffd");
                p++;
            }
            continue;
        }
        p++;
        switch (c) {
        case '"':  jsonw_lit(w, "\\\""); break;
        case '\\': jsonw_lit(w, "\\\\"); break;
        case '\n': jsonw_lit(w, "\\n"); break;
        case '\r': jsonw_lit(w, "\\r"); break;
        case '\t': jsonw_lit(w, "\\t"); break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            jsonw_raw(w, u, 6);
        }
        }
    }
    jsonw_char(w, '"');
}

void jsonw_key(jsonw *w, const char *key, int first)
{
    if (!first)
        jsonw_char(w, ',');
    jsonw_str(w, key, strlen(key));
    jsonw_char(w, ':');
}
