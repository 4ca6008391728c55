/* Formatting and parsing helpers: see util.h. */
#include "util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fmt_scaled(double v, const char *unit, char *buf, size_t len)
{
    double a = fabs(v);
    snprintf(buf, len, a < 10 ? "%.3f%s" : a < 100 ? "%.2f%s" : "%.1f%s", v, unit);
}

void pa_fmt_duration(double ns, char *buf, size_t len)
{
    double a = fabs(ns);
    if (isnan(ns))
        snprintf(buf, len, "-");
    else if (a < 1e3)
        snprintf(buf, len, "%.0fns", ns);
    else if (a < 1e6)
        fmt_scaled(ns / 1e3, "us", buf, len);
    else if (a < 1e9)
        fmt_scaled(ns / 1e6, "ms", buf, len);
    else
        fmt_scaled(ns / 1e9, "s", buf, len);
}

void pa_fmt_bytes(double n, char *buf, size_t len)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    if (fabs(n) < 1024) {
        snprintf(buf, len, "%.0f B", n);
        return;
    }
    int u = -1;
    while (fabs(n) >= 1024 && u < 4) {
        n /= 1024;
        u++;
    }
    snprintf(buf, len, "%.1f %s", n, units[u]);
}

static int buf_reserve(pa_buf *b, size_t n)
{
    if (b->oom)
        return -1;
    if (b->len + n + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void pa_buf_add(pa_buf *b, const void *s, size_t n)
{
    if (buf_reserve(b, n) < 0)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void pa_buf_adds(pa_buf *b, const char *s)
{
    pa_buf_add(b, s, strlen(s));
}

void pa_buf_addc(pa_buf *b, char c)
{
    pa_buf_add(b, &c, 1);
}

void pa_buf_printf(pa_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void pa_buf_json_string(pa_buf *b, const char *s, size_t n)
{
    pa_buf_addc(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        pa_buf_add(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': pa_buf_adds(b, "\\\""); break;
        case '\\': pa_buf_adds(b, "\\\\"); break;
        case '\n': pa_buf_adds(b, "\\n"); break;
        case '\r': pa_buf_adds(b, "\\r"); break;
        case '\t': pa_buf_adds(b, "\\t"); break;
        default: pa_buf_printf(b, "\\u%04x", c); break;
        }
    }
    pa_buf_add(b, s + run, n - run);
    pa_buf_addc(b, '"');
}

void pa_buf_free(pa_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

size_t pa_utf8_width(const char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            w++;
    return w;
}
