#include "record_expr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Past the string literal opening at s[i] ('...', "...", or tripled). */
static size_t skip_string(const char *s, size_t n, size_t i)
{
    char q = s[i];
    int triple = i + 2 < n && s[i + 1] == q && s[i + 2] == q;
    for (i += triple ? 3 : 1; i < n; i++) {
        if (s[i] == '\\') {
            i++;
        } else if (s[i] == q && (!triple || (i + 2 < n && s[i + 1] == q && s[i + 2] == q))) {
            return i + (triple ? 3 : 1);
        }
    }
    return n;
}

/* The ',' positions at the top level inside the braces s[0] and s[n-1];
 * -1 when those braces do not enclose the rest, or a ':' there makes it
 * a dict literal.  Brackets of strings do not count. */
static int top_commas(const char *s, size_t n, size_t *commas, int max)
{
    int depth = 0, nc = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\'' || c == '"') {
            i = skip_string(s, n, i) - 1;
        } else if (c == '(' || c == '[' || c == '{') {
            depth++;
        } else if (c == ')' || c == ']' || c == '}') {
            if (--depth == 0 && i != n - 1)
                return -1;   /* `{a} | {b}`: not one pair of braces */
        } else if (depth == 1 && c == ':') {
            return -1;
        } else if (depth == 1 && c == ',') {
            if (nc == max)
                return max + 1;
            commas[nc++] = i;
        }
    }
    return nc;
}

static int add(const char *s, size_t len, char **out, int *n, int max, char *err, size_t errlen)
{
    while (len && (*s == ' ' || *s == '\t' || *s == '\n'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n'))
        len--;
    if (!len) {
        snprintf(err, errlen, "--record: an empty expression");
        return -1;
    }
    if (*n == max) {
        snprintf(err, errlen, "--record: at most %d expressions per probe", max);
        return -1;
    }
    if (!(out[*n] = strndup(s, len))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    (*n)++;
    return 0;
}

int record_split(const char *src, char **out, int *n, int max, char *err, size_t errlen)
{
    size_t len = strlen(src);
    while (len && (src[len - 1] == ' ' || src[len - 1] == '\t'))
        len--;
    while (len && (*src == ' ' || *src == '\t'))
        src++, len--;
    size_t commas[RECORD_EXPRS_MAX + 1];
    int nc = len >= 2 && src[0] == '{' && src[len - 1] == '}'
                 ? top_commas(src, len, commas, RECORD_EXPRS_MAX) : -1;
    if (nc > RECORD_EXPRS_MAX) {
        snprintf(err, errlen, "--record: at most %d expressions per probe", max);
        return -1;
    }
    if (nc < 0)
        return add(src, len, out, n, max, err, errlen);
    size_t from = 1;
    for (int k = 0; k <= nc; k++) {
        size_t to = k < nc ? commas[k] : len - 1;
        int last_empty = k == nc && k > 0 && strspn(src + from, " \t\n") >= to - from;
        if (!last_empty && add(src + from, to - from, out, n, max, err, errlen) < 0)
            return -1;   /* `{a, b,}`: a trailing comma is allowed */
        from = to + 1;
    }
    return 0;
}
