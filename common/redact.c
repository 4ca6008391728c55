#include "redact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void peeka_redact_init(peeka_redact *r)
{
    r->n = 0;
}

int peeka_redact_add(peeka_redact *r, const char *rule, char *err, size_t errlen)
{
    size_t len = strlen(rule);
    if (r->n == PEEKA_REDACT_MAX) {
        snprintf(err, errlen, "too many redaction rules (limit %d)", PEEKA_REDACT_MAX);
        return -1;
    }
    if (len == 0) {   /* an empty rule matches every name: surely a mistake */
        snprintf(err, errlen, "redaction rule is empty");
        return -1;
    }
    if (len >= PEEKA_REDACT_RULE_MAX) {
        snprintf(err, errlen, "redaction rule '%.40s...' is longer than %d bytes", rule,
                 PEEKA_REDACT_RULE_MAX - 1);
        return -1;
    }
    int rc = regcomp(&r->re[r->n], rule, REG_EXTENDED | REG_ICASE | REG_NOSUB);
    if (rc != 0) {
        char why[160];
        regerror(rc, &r->re[r->n], why, sizeof why);
        snprintf(err, errlen, "redaction rule '%.200s' is not a valid regular expression: %s", rule, why);
        return -1;   /* regcomp frees what it built when it fails */
    }
    r->n++;
    return 0;
}

void peeka_redact_free(peeka_redact *r)
{
    for (int i = 0; i < r->n; i++)
        regfree(&r->re[i]);
    r->n = 0;
}

static int search(const peeka_redact *r, const char *s)
{
    for (int i = 0; i < r->n; i++)
        if (regexec(&r->re[i], s, 0, NULL, 0) == 0)
            return 1;
    return 0;
}

int peeka_redact_key(const peeka_redact *r, const char *key, size_t n)
{
    if (r->n == 0)
        return 0;
    for (const char *p = key, *end = key + n; p <= end; p += strlen(p) + 1)
        if (search(r, p))
            return 1;
    return 0;
}

/* What a KEY of `KEY=VALUE` is made of: identifier characters, '-' and
 * '.', and any byte of a non-ASCII UTF-8 character. */
static int key_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.' || c >= 0x80;
}

/* Where an unquoted VALUE ends. */
static int value_end_byte(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ';' || c == '&' ||
           c == ')' || c == ']' || c == '}' || c == '"' || c == '\'';
}

static int is_quote(char c)
{
    return c == '"' || c == '\'';
}

/* An HTTP authorization scheme: its credentials are the next word. */
static int auth_scheme(const char *s, size_t n)
{
    static const char *const schemes[] = {"bearer", "basic", "digest", "token", "negotiate", "ntlm"};
    for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++)
        if (strlen(schemes[i]) == n && strncasecmp(s, schemes[i], n) == 0)
            return 1;
    return 0;
}

/* The KEY before the separator at s[sep]: [*ks, *ke), or 0 when there is
 * none.  A quoted key must be opened by the same quote. */
static int key_before(const char *s, size_t sep, size_t *ks, size_t *ke)
{
    size_t j = sep;
    if (s[sep] == ':')
        while (j > 0 && s[j - 1] == ' ')
            j--;
    char q = 0;
    if (j > 0 && is_quote(s[j - 1]))
        q = s[--j];
    size_t end = j;
    while (j > 0 && key_byte((unsigned char)s[j - 1]))
        j--;
    if (j == end || (q && (j == 0 || s[j - 1] != q)))
        return 0;
    *ks = j;
    *ke = end;
    return 1;
}

/* The VALUE after the separator at s[sep]: [*vs, *ve), or 0 when empty.
 * Quoted (also Python's b'...', r"..."): up to the closing quote; else up
 * to a space, a comma, a semicolon, '&', a closing bracket or a quote, and
 * over one more word after an authorization scheme ("Bearer abc"). */
static int value_after(const char *s, size_t n, size_t sep, size_t *vs, size_t *ve)
{
    size_t i = sep + 1;
    while (i < n && s[i] == ' ')
        i++;
    size_t p = i;
    while (p < n && p - i < 2 && s[p] && strchr("bBrRuUfF", s[p]))
        p++;
    if (p < n && is_quote(s[p])) {
        char q = s[p];
        const char *close = memchr(s + p + 1, q, n - p - 1);
        *vs = p + 1;
        *ve = close ? (size_t)(close - s) : n;
        return *ve > *vs;
    }
    size_t k = sizeof PEEKA_REDACTED - 1;
    if (n - i >= k && memcmp(s + i, PEEKA_REDACTED, k) == 0) {   /* redacted before */
        *vs = i;
        *ve = i + k;
        return 1;
    }
    size_t e = i;
    while (e < n && !value_end_byte((unsigned char)s[e]))
        e++;
    if (e < n && s[e] == ' ' && auth_scheme(s + i, e - i)) {
        size_t w = e + 1;
        while (w < n && !value_end_byte((unsigned char)s[w]))
            w++;
        if (w > e + 1)
            e = w;
    }
    *vs = i;
    *ve = e;
    return e > i;
}

/* A key copied out of the text for regexec (which wants a NUL). */
static int key_matches(const peeka_redact *r, const char *k, size_t n)
{
    char small[256];
    char *buf = n < sizeof small ? small : malloc(n + 1);
    if (!buf)
        return -1;
    memcpy(buf, k, n);
    buf[n] = 0;
    int hit = peeka_redact_key(r, buf, n);
    if (buf != small)
        free(buf);
    return hit;
}

typedef struct {
    char *p;
    size_t len, cap;
} tbuf;

static int tbuf_add(tbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np)
            return -1;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

int peeka_redact_text(const peeka_redact *r, const char *s, size_t n, char **out, size_t *outlen)
{
    tbuf b = {NULL, 0, 0};
    size_t copied = 0;
    *out = NULL;
    *outlen = 0;
    for (size_t i = 0; r->n && i < n; i++) {
        if (s[i] != '=' && s[i] != ':')
            continue;
        if (i + 1 < n && s[i + 1] == s[i])   /* `a == b`, `std::x`: no assignment */
            continue;
        size_t ks, ke, vs, ve;
        if (!key_before(s, i, &ks, &ke) || !value_after(s, n, i, &vs, &ve))
            continue;
        if (ve - vs == sizeof PEEKA_REDACTED - 1 && memcmp(s + vs, PEEKA_REDACTED, ve - vs) == 0) {
            i = ve - 1;   /* already hidden: nothing to change */
            continue;
        }
        int hit = key_matches(r, s + ks, ke - ks);
        if (hit < 0 || (hit && (tbuf_add(&b, s + copied, vs - copied) < 0 ||
                                tbuf_add(&b, PEEKA_REDACTED, sizeof PEEKA_REDACTED - 1) < 0))) {
            free(b.p);
            return -1;
        }
        if (hit) {
            copied = ve;
            i = ve - 1;
        }
    }
    if (!b.p)
        return 0;
    if (tbuf_add(&b, s + copied, n - copied) < 0) {
        free(b.p);
        return -1;
    }
    *out = b.p;
    *outlen = b.len;
    return 1;
}

int peeka_redact_option(const peeka_redact *r, const char *word)
{
    if (word[0] != '-' || strchr(word, '='))
        return 0;
    while (*word == '-')
        word++;
    return *word && peeka_redact_key(r, word, strlen(word));
}
