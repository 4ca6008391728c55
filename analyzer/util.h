/* Small formatting and parsing helpers shared by the analyzer's modules. */
#ifndef PA_UTIL_H
#define PA_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* About four significant digits: "789ns", "45.60us", "125.3ms", "1.234s". */
void pa_fmt_duration(double ns, char *buf, size_t len);
/* "512 B", "1.5 KiB", "3.2 MiB". */
void pa_fmt_bytes(double n, char *buf, size_t len);

/* Growable byte buffer (plain C; callers free it). */
typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} pa_buf;

void pa_buf_add(pa_buf *b, const void *s, size_t n);
void pa_buf_adds(pa_buf *b, const char *s);
void pa_buf_addc(pa_buf *b, char c);
void pa_buf_printf(pa_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s[0..n) as a quoted JSON string (UTF-8 passes through). */
void pa_buf_json_string(pa_buf *b, const char *s, size_t n);
void pa_buf_free(pa_buf *b);

/* Display width of UTF-8 text (code points; good enough for tables). */
size_t pa_utf8_width(const char *s, size_t n);

#endif
