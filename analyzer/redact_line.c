/* The agent's redaction, applied to a line already recorded (see
 * redact_line.h).  The line is walked once to find what to hide; the
 * output is the input with those values' spans replaced, so numbers,
 * key order and escapes elsewhere stay byte for byte. */
#include "redact_line.h"

#include <stdlib.h>
#include <string.h>

#define REDACTED_JSON "\"" PEEKA_REDACTED "\""
#define MAX_NAMES 256           /* param_names kept; arguments past them are hidden */

typedef struct {
    size_t from, to;            /* a JSON string's body */
    int esc;
} span;

typedef struct {
    const peeka_redact *r;
    const char *s;
    size_t n;
    pa_buf *out;
    size_t copied;              /* s[0..copied) is in out */
    char *key;                  /* scratch for one unescaped name: n + 1 bytes */
    int clean;                  /* strings lose `key=value` secrets (record values) */
    pa_redact_stats *st;
    pa_jerr *e;
} rctx;

static size_t ws(const rctx *c, size_t i)
{
    while (i < c->n && (c->s[i] == ' ' || c->s[i] == '\t' || c->s[i] == '\n' || c->s[i] == '\r'))
        i++;
    return i;
}

/* The value at s[from..to) becomes "[redacted]" (unless it already is). */
static void hide(rctx *c, size_t from, size_t to)
{
    size_t k = sizeof REDACTED_JSON - 1;
    if (to - from == k && memcmp(c->s + from, REDACTED_JSON, k) == 0)
        return;
    pa_buf_add(c->out, c->s + c->copied, from - c->copied);
    pa_buf_add(c->out, REDACTED_JSON, k);
    c->copied = to;
    c->st->values++;
}

/* A JSON string body, unescaped into c->key and NUL-terminated; -1 for a
 * bad escape. */
static long unescape(rctx *c, span sp)
{
    long len = (long)(sp.to - sp.from);
    if (sp.esc)
        len = pa_json_unescape(c->s + sp.from, sp.to - sp.from, c->key);
    else
        memcpy(c->key, c->s + sp.from, (size_t)len);
    if (len < 0)
        return pa_jfail(c->e, "bad escape in a string", sp.from);
    c->key[len] = 0;
    return len;
}

/* What peeka itself writes around a formatted object is structure, not a
 * key of the program's (format.c never tests it either). */
static int structural(const char *k)
{
    return !strcmp(k, "__class__") || !strcmp(k, "__attrs__") || !strcmp(k, "__set__");
}

/* 1 when a rule names the key; -1 for a bad escape. */
static int key_hits(rctx *c, span sp, int strip_star)
{
    long len = unescape(c, sp);
    if (len < 0)
        return -1;
    const char *k = c->key;
    if (strip_star && *k == '*') {
        k++;
        len--;
    }
    return !structural(k) && peeka_redact_key(c->r, k, (size_t)len);
}

static long walk(rctx *c, size_t i, int depth);

/* The value at s[i]: hidden when `hit`, else walked into. */
static long value(rctx *c, size_t i, int hit, int depth)
{
    if (!hit)
        return walk(c, i, depth + 1);
    uint8_t t = 0, f = 0;
    long v = pa_skip_value(c->s, c->n, i, &t, &f, c->e);
    if (v >= 0)
        hide(c, i, (size_t)v);
    return v;
}

/* After an object member or array element ending before v: 0 with *i at
 * the next one, the index past `close` (> 0), or -1. */
static long next_item(rctx *c, long v, char close, size_t *i)
{
    *i = ws(c, (size_t)v);
    if (*i < c->n && c->s[*i] == ',') {
        *i = ws(c, *i + 1);
        return 0;
    }
    if (*i < c->n && c->s[*i] == close)
        return (long)*i + 1;
    return pa_jfail(c->e, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'", *i);
}

static long walk_object(rctx *c, size_t i, int depth)
{
    i = ws(c, i + 1);
    if (i < c->n && c->s[i] == '}')
        return (long)i + 1;
    for (;;) {
        if (i >= c->n || c->s[i] != '"')
            return pa_jfail(c->e, "expected a field name", i);
        uint8_t esc = 0;
        long k = pa_scan_string(c->s, c->n, i + 1, &esc, c->e);
        if (k < 0)
            return -1;
        int hit = key_hits(c, (span){i + 1, (size_t)k, esc}, 0);
        i = ws(c, (size_t)k + 1);
        if (hit < 0)
            return -1;
        if (i >= c->n || c->s[i] != ':')
            return pa_jfail(c->e, "expected ':' after a field name", i);
        long v = value(c, ws(c, i + 1), hit, depth);
        if (v < 0)
            return -1;
        long end = next_item(c, v, '}', &i);
        if (end != 0)
            return end;
    }
}

/* An array; with names (params), element k is hidden when names[k] (or
 * the last, "*rest", for the elements past it) is hit, or when there are
 * no names at all: an argument whose name is unknown does not pass. */
static long walk_array(rctx *c, size_t i, int depth, const span *names, int nnames, int named)
{
    i = ws(c, i + 1);
    if (i < c->n && c->s[i] == ']')
        return (long)i + 1;
    for (int k = 0;; k++) {
        int hit = 0;
        if (named) {
            int star = nnames > 0 && names[nnames - 1].to > names[nnames - 1].from &&
                       c->s[names[nnames - 1].from] == '*';
            const span *nm = k < nnames - star ? &names[k] : star ? &names[nnames - 1] : NULL;
            hit = nm ? key_hits(c, *nm, nm == &names[nnames - 1] && star) : 1;
            if (hit < 0)
                return -1;
        }
        long v = value(c, i, hit, depth);
        if (v < 0)
            return -1;
        long end = next_item(c, v, ']', &i);
        if (end != 0)
            return end;
    }
}

static int clean_string(rctx *c, span sp);

static long walk(rctx *c, size_t i, int depth)
{
    if (depth > PA_JSON_MAX_DEPTH)
        return pa_jfail(c->e, "JSON nested deeper than 512 levels", i);
    i = ws(c, i);
    if (i < c->n && c->s[i] == '{')
        return walk_object(c, i, depth);
    if (i < c->n && c->s[i] == '[')
        return walk_array(c, i, depth, NULL, 0, 0);
    uint8_t t = 0, f = 0;
    long v = pa_skip_value(c->s, c->n, i, &t, &f, c->e);
    if (v >= 0 && c->clean && t == PA_J_STR &&
        clean_string(c, (span){i + 1, (size_t)v - 1, f & PA_JF_VESC}) < 0)
        return -1;
    return v;
}

/* `record`: element k hidden when bit k of `hidden` is set, the others
 * walked with their strings cleaned as the agent does. */
static long walk_record(rctx *c, size_t i, unsigned long long hidden)
{
    i = ws(c, i + 1);
    if (i < c->n && c->s[i] == ']')
        return (long)i + 1;
    c->clean = 1;
    for (int k = 0;; k++) {
        long v = value(c, i, k < 64 && ((hidden >> k) & 1), 0);
        if (v < 0)
            return -1;
        i = ws(c, (size_t)v);
        if (i < c->n && c->s[i] == ',') {
            i = ws(c, i + 1);
            continue;
        }
        c->clean = 0;
        if (i < c->n && c->s[i] == ']')
            return (long)i + 1;
        return pa_jfail(c->e, "expected ',' or ']'", i);
    }
}

/* The strings of param_names, at most MAX_NAMES (arguments past the names
 * read are hidden); -1 for a malformed string. */
static int read_names(rctx *c, const pa_field *f, span *names)
{
    size_t i = ws(c, f->voff + 1);
    int n = 0;
    while (i < c->n && c->s[i] == '"' && n < MAX_NAMES) {
        uint8_t esc = 0;
        long k = pa_scan_string(c->s, c->n, i + 1, &esc, c->e);
        if (k < 0)
            return -1;
        names[n++] = (span){i + 1, (size_t)k, esc};
        i = ws(c, (size_t)k + 1);
        if (i < c->n && c->s[i] == ',')
            i = ws(c, i + 1);
    }
    return n;
}

/* A JSON string (its body sp) with `password=...` values replaced. */
static int clean_string(rctx *c, span sp)
{
    long len = unescape(c, sp);
    if (len < 0)
        return -1;
    char *text;
    size_t tlen;
    int rc = peeka_redact_text(c->r, c->key, (size_t)len, &text, &tlen);
    if (rc < 0)
        return (int)pa_jfail(c->e, "out of memory", sp.from);
    if (rc == 0)
        return 0;
    pa_buf_add(c->out, c->s + c->copied, sp.from - 1 - c->copied);
    pa_buf_json_string(c->out, text, tlen);
    c->copied = sp.to + 1;
    c->st->values++;
    free(text);
    return 0;
}

/* throwExp: `password=...` in the message. */
static int redact_message(rctx *c, const pa_field *f)
{
    if (f->type != PA_J_STR)
        return 0;
    return clean_string(c, (span){f->voff, f->voff + f->vlen, f->flags & PA_JF_VESC});
}

static int field_is(const char *line, const pa_field *f, const char *name)
{
    return f->klen == strlen(name) && !(f->flags & PA_JF_KESC) && !memcmp(line + f->koff, name, f->klen);
}

static int redact_fields(rctx *c, const pa_field *f, int nf, unsigned long long record_hidden)
{
    span names[MAX_NAMES];
    int nnames = 0, named = 0;
    int pn = pa_field_find(c->s, f, nf, "param_names", sizeof "param_names" - 1);
    if (pn >= 0 && f[pn].type == PA_J_ARR) {
        if ((nnames = read_names(c, &f[pn], names)) < 0)
            return -1;
        named = 1;
    }
    for (int i = 0; i < nf; i++) {
        long v = 0;
        size_t at = f[i].type == PA_J_STR ? f[i].voff - 1 : f[i].voff;
        if (field_is(c->s, &f[i], "params") && f[i].type == PA_J_ARR) {
            if (!named && f[i].vlen > 2)
                c->st->unnamed = 1;
            v = walk_array(c, at, 0, names, nnames, 1);
        } else if (field_is(c->s, &f[i], "kwargs") || field_is(c->s, &f[i], "target") ||
                   field_is(c->s, &f[i], "returnObj")) {
            v = walk(c, at, 0);
        } else if (field_is(c->s, &f[i], "throwExp")) {
            v = redact_message(c, &f[i]);
        } else if (field_is(c->s, &f[i], "record") && f[i].type == PA_J_ARR) {
            v = walk_record(c, at, record_hidden);
        }
        if (v < 0)
            return -1;
    }
    return 0;
}

int pa_redact_line(const peeka_redact *r, const char *s, size_t n, unsigned long long record_hidden,
                   pa_buf *out, pa_redact_stats *st, pa_jerr *e)
{
    pa_field f[PA_MAX_FIELDS];
    st->values = 0;
    st->unnamed = 0;
    int nf = pa_scan_object(s, n, f, PA_MAX_FIELDS, e);
    if (nf < 0)
        return -1;
    rctx c = {r, s, n, out, 0, malloc(n + 1), 0, st, e};
    if (!c.key)
        return (int)pa_jfail(e, "out of memory", 0);
    int rc = r->n ? redact_fields(&c, f, nf, record_hidden) : 0;
    free(c.key);
    if (rc < 0)
        return -1;
    pa_buf_add(out, s + c.copied, n - c.copied);
    return out->oom ? (int)pa_jfail(e, "out of memory", 0) : 0;
}
