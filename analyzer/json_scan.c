/* Record-line JSON scanner: see json_scan.h. */
#include "json_scan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* 1 for bytes that end the fast part of a string scan: '"', '\\', controls. */
static const unsigned char str_stop[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, ['\\'] = 1,
};

/* 1 for bytes a container skip must look at: brackets, quotes, controls. */
static const unsigned char cont_stop[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ['"'] = 1, ['['] = 1, [']'] = 1, ['{'] = 1, ['}'] = 1,
};

static size_t skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

long pa_jfail(pa_jerr *e, const char *msg, size_t off)
{
    e->msg = msg;
    e->off = off;
    return -1;
}

/* i is just after the opening quote; returns the index of the closing one. */
long pa_scan_string(const char *s, size_t n, size_t i, uint8_t *esc, pa_jerr *e)
{
    const unsigned char *u = (const unsigned char *)s;
    for (;;) {
        while (i < n && !str_stop[u[i]])
            i++;
        if (i >= n)
            return pa_jfail(e, "unterminated string", n);
        if (u[i] == '"')
            return (long)i;
        if (u[i] < 0x20)
            return pa_jfail(e, "control character inside a string", i);
        *esc = 1;               /* a backslash: skip the escaped byte */
        if (i + 1 >= n)
            return pa_jfail(e, "unterminated string", n);
        i += 2;
    }
}

long pa_scan_number(const char *s, size_t n, size_t i, uint8_t *flags, pa_jerr *e)
{
    size_t start = i;
    int is_int = 1;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n || s[i] < '0' || s[i] > '9')
        return pa_jfail(e, "invalid number", start);
    if (s[i] == '0')
        i++;
    else
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    if (i < n && s[i] == '.') {
        is_int = 0;
        i++;
        if (i >= n || s[i] < '0' || s[i] > '9')
            return pa_jfail(e, "invalid number", start);
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        is_int = 0;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || s[i] < '0' || s[i] > '9')
            return pa_jfail(e, "invalid number", start);
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (is_int)
        *flags |= PA_JF_INT;
    return (long)i;
}

static long skip_literal(const char *s, size_t n, size_t i, const char *lit, pa_jerr *e)
{
    size_t l = strlen(lit);
    if (n - i < l || memcmp(s + i, lit, l) != 0)
        return pa_jfail(e, "invalid literal", i);
    return (long)(i + l);
}

/* Skips a nested object or array without recursion.  The bracket stack is
 * a bit array, so nesting is bounded by PA_JSON_MAX_DEPTH. */
static long skip_container(const char *s, size_t n, size_t i, pa_jerr *e)
{
    unsigned char stack[PA_JSON_MAX_DEPTH / 8];
    int depth = 0;
    for (;;) {
        while (i < n && !cont_stop[(unsigned char)s[i]])
            i++;
        char c = i < n ? s[i] : '\0';
        if (i >= n)
            return pa_jfail(e, "unterminated object or array", n);
        if (c == '{' || c == '[') {
            if (depth >= PA_JSON_MAX_DEPTH)
                return pa_jfail(e, "JSON nested deeper than 512 levels", i);
            if (c == '{')
                stack[depth / 8] |= (unsigned char)(1u << (depth % 8));
            else
                stack[depth / 8] &= (unsigned char)~(1u << (depth % 8));
            depth++;
            i++;
        } else if (c == '}' || c == ']') {
            int is_obj = depth > 0 && (stack[(depth - 1) / 8] >> ((depth - 1) % 8)) & 1;
            if (depth == 0 || is_obj != (c == '}'))
                return pa_jfail(e, "mismatched bracket", i);
            depth--;
            i++;
            if (depth == 0)
                return (long)i;
        } else if (c == '"') {
            uint8_t esc = 0;
            long j = pa_scan_string(s, n, i + 1, &esc, e);
            if (j < 0)
                return -1;
            i = (size_t)j + 1;
        } else if ((unsigned char)c < 0x20 && c != '\n' && c != '\r' && c != '\t') {
            return pa_jfail(e, "control character in JSON", i);
        } else {
            i++;
        }
    }
}

long pa_skip_value(const char *s, size_t n, size_t i, uint8_t *type, uint8_t *flags, pa_jerr *e)
{
    if (i >= n)
        return pa_jfail(e, "missing value", i);
    switch (s[i]) {
    case '"': {
        uint8_t esc = 0;
        long j = pa_scan_string(s, n, i + 1, &esc, e);
        *type = PA_J_STR;
        if (esc)
            *flags |= PA_JF_VESC;
        return j < 0 ? -1 : j + 1;
    }
    case '{': *type = PA_J_OBJ; return skip_container(s, n, i, e);
    case '[': *type = PA_J_ARR; return skip_container(s, n, i, e);
    case 't': *type = PA_J_TRUE; return skip_literal(s, n, i, "true", e);
    case 'f': *type = PA_J_FALSE; return skip_literal(s, n, i, "false", e);
    case 'n': *type = PA_J_NULL; return skip_literal(s, n, i, "null", e);
    default: *type = PA_J_NUM; return pa_scan_number(s, n, i, flags, e);
    }
}

int pa_scan_object(const char *s, size_t n, pa_field *f, int maxf, pa_jerr *e)
{
    size_t i = skip_ws(s, n, 0);
    int nf = 0;
    if (i >= n || s[i] != '{')
        return (int)pa_jfail(e, "not a JSON object", i);
    i = skip_ws(s, n, i + 1);
    if (i < n && s[i] == '}')
        goto done;
    for (;;) {
        if (i >= n || s[i] != '"')
            return (int)pa_jfail(e, "expected a field name", i);
        if (nf >= maxf)
            return (int)pa_jfail(e, "more than 256 top-level fields", i);
        pa_field *fl = &f[nf];
        uint8_t kesc = 0;
        long k = pa_scan_string(s, n, i + 1, &kesc, e);
        if (k < 0)
            return -1;
        if ((size_t)k - i - 1 > 0xFFFF)
            return (int)pa_jfail(e, "field name longer than 65535 bytes", i);
        fl->koff = (uint32_t)(i + 1);
        fl->klen = (uint16_t)((size_t)k - i - 1);
        i = skip_ws(s, n, (size_t)k + 1);
        if (i >= n || s[i] != ':')
            return (int)pa_jfail(e, "expected ':' after a field name", i);
        i = skip_ws(s, n, i + 1);
        fl->flags = kesc ? PA_JF_KESC : 0;
        long v = pa_skip_value(s, n, i, &fl->type, &fl->flags, e);
        if (v < 0)
            return -1;
        if (fl->type == PA_J_STR) {
            fl->voff = (uint32_t)(i + 1);
            fl->vlen = (uint32_t)((size_t)v - i - 2);
        } else {
            fl->voff = (uint32_t)i;
            fl->vlen = (uint32_t)((size_t)v - i);
        }
        nf++;
        i = skip_ws(s, n, (size_t)v);
        if (i < n && s[i] == ',') {
            i = skip_ws(s, n, i + 1);
            continue;
        }
        if (i < n && s[i] == '}')
            break;
        return (int)pa_jfail(e, "expected ',' or '}'", i);
    }
done:
    i = skip_ws(s, n, i + 1);
    if (i != n)
        return (int)pa_jfail(e, "trailing characters after the object", i);
    return nf;
}

static int hex4(const char *s, unsigned *v)
{
    unsigned x = 0;
    for (int k = 0; k < 4; k++) {
        char c = s[k];
        x <<= 4;
        if (c >= '0' && c <= '9') x |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') x |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') x |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *v = x;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

long pa_json_unescape(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            out[o++] = s[i];
            continue;
        }
        if (++i >= n)
            return -1;
        switch (s[i]) {
        case '"': out[o++] = '"'; break;
        case '\\': out[o++] = '\\'; break;
        case '/': out[o++] = '/'; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (n - i < 5 || hex4(s + i + 1, &cp) < 0)
                return -1;
            i += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && n - i >= 7 && s[i + 1] == '\\' && s[i + 2] == 'u' &&
                hex4(s + i + 3, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            } else if (cp >= 0xD800 && cp < 0xE000) {
                cp = 0xFFFD;    /* a lone surrogate: replacement character */
            }
            o += put_utf8(out + o, cp);
            break;
        }
        default:
            return -1;
        }
    }
    return (long)o;
}

int pa_json_int(const char *s, size_t n, int64_t *v)
{
    size_t i = 0;
    int neg = 0;
    uint64_t x = 0;
    if (n > 0 && s[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i >= n || n - i > 19)
        return 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        x = x * 10 + (uint64_t)(s[i] - '0');
    }
    if (neg ? x > (uint64_t)INT64_MAX + 1 : x > (uint64_t)INT64_MAX)
        return 0;
    *v = neg ? (int64_t)(0 - x) : (int64_t)x;
    return 1;
}

double pa_json_double(const char *s, size_t n)
{
    char buf[64];
    if (n < sizeof buf) {
        memcpy(buf, s, n);
        buf[n] = '\0';
        return strtod(buf, NULL);
    }
    char *tmp = malloc(n + 1);
    if (!tmp)
        return NAN;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    double d = strtod(tmp, NULL);
    free(tmp);
    return d;
}

int pa_field_find(const char *line, const pa_field *f, int nf, const char *name, size_t len)
{
    for (int i = nf - 1; i >= 0; i--)
        if (f[i].klen == len && !(f[i].flags & PA_JF_KESC) && memcmp(line + f[i].koff, name, len) == 0)
            return i;
    /* Escaped names are rare: compare them decoded. */
    for (int i = nf - 1; i >= 0; i--) {
        if (!(f[i].flags & PA_JF_KESC) || f[i].klen < len)
            continue;
        char tmp[256];
        if (f[i].klen > sizeof tmp)
            continue;
        long m = pa_json_unescape(line + f[i].koff, f[i].klen, tmp);
        if (m == (long)len && memcmp(tmp, name, len) == 0)
            return i;
    }
    return -1;
}
