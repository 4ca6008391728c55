/* Tokenizer and recursive-descent parser for condition expressions.  Builds
 * the flat tree of cond_ast.h; uses no Python API, so it runs (and is fuzzed)
 * without an interpreter.  Everything the evaluator must not do is refused
 * here, with the column where it starts. */
#define PEEKA_COND_NO_PYTHON
#include "cond.h"
#include "cond_ast.h"

#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const cond_func_names[] = {
    NULL, "len", "str", "int", "float", "bool", "abs", "min", "max", NULL
};

const char *const cond_method_names[] = {
    NULL, "startswith", "endswith", "lower", "upper", "strip", "lstrip",
    "rstrip", "split", "find", "count", "replace", "isdigit", "isalpha",
    "get", "keys", "values", "items", "index", NULL
};

static const char *const fixed_names[] = {
    NULL, "params", "kwargs", "target", "returnObj", "throwExp", "cost", NULL
};

enum tok_type { T_END, T_NAME, T_INT, T_BIGINT, T_FLOAT, T_STR, T_BYTES, T_OP };

/* Operators; the ones after O_LAST_OK are lexed only to explain the refusal. */
enum {
    O_LPAR = 1, O_RPAR, O_LBRK, O_RBRK, O_LBRACE, O_RBRACE, O_COMMA, O_COLON,
    O_DOT, O_PLUS, O_MINUS, O_STAR, O_SLASH, O_DSLASH, O_PCT, O_DSTAR,
    O_TILDE, O_LT, O_LE, O_EQ, O_NE, O_GT, O_GE,
    O_LAST_OK = O_GE,
    O_ASSIGN, O_AUGASSIGN, O_WALRUS, O_UNSUPPORTED, O_SEMI
};

typedef struct {
    int type;
    int op;
    size_t start, len;          /* source span */
    int64_t i;                  /* T_INT */
    double f;                   /* T_FLOAT */
    uint32_t soff, slen;        /* T_STR, T_BYTES, T_BIGINT: decoded text in pool */
    int base;                   /* T_BIGINT */
} token;

typedef struct {
    const char *src;
    size_t len, pos;
    token t;
    cond_node nodes[COND_MAX_NODES];
    int n;
    char *pool;
    size_t pool_len, pool_cap;
    int depth;
    int failed;
    char *err;
    size_t errlen;
} parser;

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int fail(parser *p, size_t at, const char *fmt, ...)
{
    if (p->failed)
        return -1;
    p->failed = 1;
    if (p->err && p->errlen) {
        int k = snprintf(p->err, p->errlen, "col %zu: ", at + 1);
        if (k >= 0 && (size_t)k < p->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(p->err + k, p->errlen - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

/* ---- pool ---- */

static int pool_put(parser *p, const char *s, size_t n)
{
    if (p->pool_len + n > p->pool_cap)
        return fail(p, p->t.start, "condition too large");
    memcpy(p->pool + p->pool_len, s, n);
    p->pool_len += n;
    return 0;
}

static int pool_byte(parser *p, unsigned char ch)
{
    char c = (char)ch;
    return pool_put(p, &c, 1);
}

/* Appends code point cp as UTF-8 (surrogates too: the evaluator decodes with
 * "surrogatepass", as Python keeps lone surrogates in str). */
static int pool_utf8(parser *p, uint32_t cp)
{
    unsigned char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp; n = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | cp >> 6);
        b[1] = (unsigned char)(0x80 | (cp & 0x3F)); n = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | cp >> 12);
        b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F)); n = 3;
    } else {
        b[0] = (unsigned char)(0xF0 | cp >> 18);
        b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        b[3] = (unsigned char)(0x80 | (cp & 0x3F)); n = 4;
    }
    return pool_put(p, (const char *)b, n);
}

/* ---- character classes ---- */

static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Length of the valid UTF-8 sequence at s (strictly: no overlongs, no
 * encoded surrogates, nothing past U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
    uint32_t cp;
    size_t n;
    if (s[0] < 0x80) return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) { n = 2; cp = s[0] & 0x1F; }
    else if (s[0] >= 0xE0 && s[0] <= 0xEF) { n = 3; cp = s[0] & 0x0F; }
    else if (s[0] >= 0xF0 && s[0] <= 0xF4) { n = 4; cp = s[0] & 0x07; }
    else return 0;
    if (avail < n) return 0;
    for (size_t k = 1; k < n; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[k] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

static int is_name_char(parser *p, size_t at, size_t *n)
{
    unsigned char c = (unsigned char)p->src[at];
    if (is_alpha(c) || is_digit(c)) { *n = 1; return 1; }
    if (c >= 0x80) {
        *n = utf8_len((const unsigned char *)p->src + at, p->len - at);
        return *n > 0;
    }
    return 0;
}

/* ---- numbers ---- */

/* Digits of base `base` with single '_' between them; returns the end. */
static size_t scan_digits(parser *p, size_t i, int base, int allow_leading_us, int *ok)
{
    size_t start = i;
    int prev_us = 0;
    *ok = 1;
    for (;; i++) {
        char c = i < p->len ? p->src[i] : 0;
        int v = hexval(c);
        if (c == '_') {
            if (prev_us || (i == start && !allow_leading_us)) { *ok = 0; return i; }
            prev_us = 1;
            continue;
        }
        if (v < 0 || v >= base)
            break;
        prev_us = 0;
    }
    if (prev_us || i == start)
        *ok = 0;
    return i;
}

/* Converts a float literal the way Python does, whatever LC_NUMERIC the
 * target process has set. */
static int parse_double(const char *text, double *out)
{
    locale_t c_loc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (c_loc == (locale_t)0)
        return -1;
    char *end;
    *out = strtod_l(text, &end, c_loc);
    freelocale(c_loc);
    return *end == 0 ? 0 : -1;
}

static int lex_number(parser *p, size_t start)
{
    token *t = &p->t;
    size_t i = start;
    int ok, base = 10, is_float = 0;
    const char *s = p->src;
    if (s[i] == '0' && i + 1 < p->len && strchr("xXoObB", s[i + 1]) && s[i + 1]) {
        base = (s[i + 1] == 'x' || s[i + 1] == 'X') ? 16 : (s[i + 1] == 'o' || s[i + 1] == 'O') ? 8 : 2;
        i = scan_digits(p, i + 2, base, 1, &ok);
        if (!ok)
            return fail(p, start, "invalid number literal");
    } else {
        if (s[i] != '.') {
            i = scan_digits(p, i, 10, 0, &ok);
            if (!ok)
                return fail(p, start, "invalid number literal");
        }
        if (i < p->len && s[i] == '.') {
            is_float = 1;
            i++;
            if (i < p->len && is_digit(s[i])) {
                i = scan_digits(p, i, 10, 0, &ok);
                if (!ok)
                    return fail(p, start, "invalid number literal");
            }
        }
        if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
            size_t e = i + 1;
            if (e < p->len && (s[e] == '+' || s[e] == '-'))
                e++;
            if (e < p->len && is_digit(s[e])) {
                is_float = 1;
                i = scan_digits(p, e, 10, 0, &ok);
                if (!ok)
                    return fail(p, start, "invalid number literal");
            }
        }
    }
    size_t nc;
    if (i < p->len && (s[i] == 'j' || s[i] == 'J'))
        return fail(p, start, "complex numbers are not supported");
    if (i < p->len && is_name_char(p, i, &nc))
        return fail(p, start, "invalid number literal");
    t->start = start;
    t->len = i - start;

    /* The literal without '_', for strtod / PyLong_FromString. */
    char buf[COND_MAX_SRC + 1];
    size_t bl = 0;
    for (size_t k = start; k < i; k++)
        if (s[k] != '_')
            buf[bl++] = s[k];
    buf[bl] = 0;

    if (is_float) {
        t->type = T_FLOAT;
        if (parse_double(buf, &t->f) < 0)
            return fail(p, start, "invalid number literal");
        return 0;
    }
    if (base == 10 && buf[0] == '0') {
        for (size_t k = 1; k < bl; k++)
            if (buf[k] != '0')
                return fail(p, start, "leading zeros in decimal integer literals are not permitted");
    }
    uint64_t v = 0;
    int big = 0;
    for (size_t k = base == 10 ? 0 : 2; k < bl; k++) {
        uint64_t d = (uint64_t)hexval(buf[k]);
        if (v > (UINT64_C(0x7fffffffffffffff) - d) / (uint64_t)base) {
            big = 1;
            break;
        }
        v = v * (uint64_t)base + d;
    }
    if (!big) {
        t->type = T_INT;
        t->i = (int64_t)v;
        return 0;
    }
    t->type = T_BIGINT;
    t->base = base;
    t->soff = (uint32_t)p->pool_len;
    t->slen = (uint32_t)bl;
    return pool_put(p, buf, bl);
}

/* ---- strings ---- */

static int lex_escape(parser *p, size_t *ip, int bytes)
{
    size_t i = *ip;             /* at the character after the backslash */
    const char *s = p->src;
    char c = s[i];
    uint32_t cp;
    int digits = 0;
    switch (c) {
    case '\n': *ip = i + 1; return 0;
    case '\\': case '\'': case '"': *ip = i + 1; return pool_byte(p, (unsigned char)c);
    case 'a': *ip = i + 1; return pool_byte(p, 7);
    case 'b': *ip = i + 1; return pool_byte(p, 8);
    case 'f': *ip = i + 1; return pool_byte(p, 12);
    case 'n': *ip = i + 1; return pool_byte(p, 10);
    case 'r': *ip = i + 1; return pool_byte(p, 13);
    case 't': *ip = i + 1; return pool_byte(p, 9);
    case 'v': *ip = i + 1; return pool_byte(p, 11);
    case 'x': digits = 2; break;
    case 'u': if (!bytes) digits = 4; break;
    case 'U': if (!bytes) digits = 8; break;
    case 'N':
        if (!bytes)
            return fail(p, i - 1, "\\N{...} escapes are not supported");
        break;
    default:
        break;
    }
    if (c >= '0' && c <= '7') {
        cp = 0;
        int k = 0;
        while (k < 3 && s[i] >= '0' && s[i] <= '7') {
            cp = cp * 8 + (uint32_t)(s[i] - '0');
            i++, k++;
        }
        *ip = i;
        if (bytes) {
            if (cp > 0xFF)
                return fail(p, i - (size_t)k - 1, "octal escape out of range");
            return pool_byte(p, (unsigned char)cp);
        }
        return pool_utf8(p, cp);
    }
    if (digits) {
        cp = 0;
        for (int k = 0; k < digits; k++) {
            int v = i + 1 + (size_t)k < p->len ? hexval(s[i + 1 + (size_t)k]) : -1;
            if (v < 0)
                return fail(p, i - 1, "truncated \\%c escape", c);
            cp = cp << 4 | (uint32_t)v;
        }
        if (cp > 0x10FFFF)
            return fail(p, i - 1, "illegal Unicode character in \\U escape");
        *ip = i + 1 + (size_t)digits;
        return bytes ? pool_byte(p, (unsigned char)cp) : pool_utf8(p, cp);
    }
    /* Unknown escapes keep their backslash, as in Python. */
    if (pool_byte(p, '\\') < 0)
        return -1;
    *ip = i;
    return 0;
}

static int lex_string(parser *p, size_t start, size_t qpos, int raw, int bytes)
{
    token *t = &p->t;
    const char *s = p->src;
    char q = s[qpos];
    int triple = qpos + 2 < p->len && s[qpos + 1] == q && s[qpos + 2] == q;
    size_t i = qpos + (triple ? 3 : 1);
    t->type = bytes ? T_BYTES : T_STR;
    t->soff = (uint32_t)p->pool_len;
    for (;;) {
        if (i >= p->len)
            return fail(p, start, "unterminated string");
        unsigned char c = (unsigned char)s[i];
        if (c == (unsigned char)q) {
            if (!triple) { i++; break; }
            if (i + 2 < p->len && s[i + 1] == q && s[i + 2] == q) { i += 3; break; }
        }
        if (c == '\n' && !triple)
            return fail(p, start, "unterminated string");
        if (c == '\\' && i + 1 < p->len) {
            if (raw) {
                /* A raw string keeps the backslash, but \' still does not
                 * end it; any other next character is checked as usual. */
                char nx = s[i + 1];
                size_t n = nx == q || nx == '\\' || nx == '\n' ? 2 : 1;
                if (pool_put(p, s + i, n) < 0)
                    return -1;
                i += n;
                continue;
            }
            i++;
            if (lex_escape(p, &i, bytes) < 0)
                return -1;
            continue;
        }
        if (c >= 0x80) {
            if (bytes)
                return fail(p, i, "bytes can only contain ASCII literal characters");
            size_t n = utf8_len((const unsigned char *)s + i, p->len - i);
            if (!n)
                return fail(p, i, "invalid UTF-8 in string");
            if (pool_put(p, s + i, n) < 0)
                return -1;
            i += n;
            continue;
        }
        if (pool_byte(p, c) < 0)
            return -1;
        i++;
    }
    t->slen = (uint32_t)(p->pool_len - t->soff);
    t->start = start;
    t->len = i - start;
    return 0;
}

/* A name made only of string prefix letters, directly before a quote. */
static int lex_prefixed(parser *p, size_t start, size_t end)
{
    int raw = 0, bytes = 0, fstr = 0, uni = 0;
    for (size_t k = start; k < end; k++) {
        switch (p->src[k]) {
        case 'r': case 'R': raw++; break;
        case 'b': case 'B': bytes++; break;
        case 'f': case 'F': fstr++; break;
        case 'u': case 'U': uni++; break;
        default: return 1;
        }
    }
    if (end - start > 2 || raw > 1 || bytes > 1 || fstr > 1 || uni > 1 ||
        (uni && end - start > 1) || (bytes && fstr))
        return fail(p, start, "invalid string prefix");
    if (fstr)
        return fail(p, start, "f-strings are not supported");
    return lex_string(p, start, end, raw, bytes);
}

/* ---- tokens ---- */

static int lex_op(parser *p, size_t i)
{
    static const struct { const char *s; int op; } ops[] = {
        {"**=", O_AUGASSIGN}, {"//=", O_AUGASSIGN}, {">>=", O_AUGASSIGN}, {"<<=", O_AUGASSIGN},
        {"**", O_DSTAR}, {"//", O_DSLASH}, {"==", O_EQ}, {"!=", O_NE}, {"<=", O_LE},
        {">=", O_GE}, {":=", O_WALRUS}, {"->", O_UNSUPPORTED}, {"<<", O_UNSUPPORTED},
        {">>", O_UNSUPPORTED}, {"+=", O_AUGASSIGN}, {"-=", O_AUGASSIGN}, {"*=", O_AUGASSIGN},
        {"/=", O_AUGASSIGN}, {"%=", O_AUGASSIGN}, {"&=", O_AUGASSIGN}, {"|=", O_AUGASSIGN},
        {"^=", O_AUGASSIGN}, {"@=", O_AUGASSIGN}, {"<>", O_UNSUPPORTED},
        {"(", O_LPAR}, {")", O_RPAR}, {"[", O_LBRK}, {"]", O_RBRK}, {"{", O_LBRACE},
        {"}", O_RBRACE}, {",", O_COMMA}, {":", O_COLON}, {".", O_DOT}, {"+", O_PLUS},
        {"-", O_MINUS}, {"*", O_STAR}, {"/", O_SLASH}, {"%", O_PCT}, {"~", O_TILDE},
        {"<", O_LT}, {">", O_GT}, {"=", O_ASSIGN}, {"&", O_UNSUPPORTED},
        {"|", O_UNSUPPORTED}, {"^", O_UNSUPPORTED}, {"@", O_UNSUPPORTED}, {";", O_SEMI},
    };
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        size_t n = strlen(ops[k].s);
        if (i + n <= p->len && memcmp(p->src + i, ops[k].s, n) == 0) {
            p->t.type = T_OP;
            p->t.op = ops[k].op;
            p->t.start = i;
            p->t.len = n;
            return 0;
        }
    }
    unsigned char c = (unsigned char)p->src[i];
    if (c >= 0x21 && c < 0x7F)
        return fail(p, i, "unexpected character '%c'", c);
    return fail(p, i, "unexpected byte 0x%02x", c);
}

static int advance(parser *p)
{
    const char *s = p->src;
    size_t i = p->pos;
    for (;;) {
        while (i < p->len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' ||
                              s[i] == '\r' || s[i] == '\f'))
            i++;
        if (i < p->len && s[i] == '\\' && i + 1 < p->len && s[i + 1] == '\n') {
            i += 2;
            continue;
        }
        if (i < p->len && s[i] == '#') {
            /* Python refuses malformed UTF-8 anywhere, comments included. */
            while (i < p->len && s[i] != '\n') {
                size_t n = utf8_len((const unsigned char *)s + i, p->len - i);
                if (!n)
                    return fail(p, i, "invalid UTF-8 in comment");
                i += n;
            }
            continue;
        }
        break;
    }
    memset(&p->t, 0, sizeof p->t);
    p->t.start = i;
    int rc;
    if (i >= p->len) {
        p->t.type = T_END;
        rc = 0;
    } else if (is_digit((unsigned char)s[i]) ||
               (s[i] == '.' && i + 1 < p->len && is_digit((unsigned char)s[i + 1]))) {
        rc = lex_number(p, i);
    } else if (s[i] == '\'' || s[i] == '"') {
        rc = lex_string(p, i, i, 0, 0);
    } else {
        size_t n, j = i;
        unsigned char c = (unsigned char)s[i];
        if (is_alpha(c) || (c >= 0x80 && is_name_char(p, i, &n))) {
            while (j < p->len && is_name_char(p, j, &n))
                j += n;
            rc = 1;
            if (j < p->len && (s[j] == '\'' || s[j] == '"'))
                rc = lex_prefixed(p, i, j);
            if (rc == 1) {
                p->t.type = T_NAME;
                p->t.len = j - i;
                rc = 0;
            }
        } else if (c >= 0x80) {
            rc = fail(p, i, "invalid UTF-8 byte 0x%02x", c);
        } else {
            rc = lex_op(p, i);
        }
    }
    if (rc == 0)
        p->pos = p->t.start + p->t.len;
    return rc;
}

/* ---- parser helpers ---- */

static int tok_is_op(parser *p, int op) { return p->t.type == T_OP && p->t.op == op; }

static int tok_is_kw(parser *p, const char *kw)
{
    size_t n = strlen(kw);
    return p->t.type == T_NAME && p->t.len == n && memcmp(p->src + p->t.start, kw, n) == 0;
}

static int is_blocked_kw(parser *p)
{
    static const char *const kws[] = {
        "lambda", "for", "import", "from", "yield", "await", "async", "def",
        "class", "del", "global", "nonlocal", "return", "raise", "try",
        "except", "finally", "while", "with", "assert", "pass", "break",
        "continue", "elif", "as", NULL
    };
    for (int k = 0; kws[k]; k++)
        if (tok_is_kw(p, kws[k]))
            return 1;
    return 0;
}

/* Python's reserved words, which can be neither names nor attributes. */
static int is_keyword(parser *p)
{
    static const char *const soft[] = {
        "and", "or", "not", "if", "else", "in", "is", "True", "False", "None", NULL
    };
    for (int k = 0; soft[k]; k++)
        if (tok_is_kw(p, soft[k]))
            return 1;
    return is_blocked_kw(p);
}

/* Explains why the current token cannot go here. */
static int unexpected(parser *p)
{
    token *t = &p->t;
    int n = t->len > 24 ? 24 : (int)t->len;
    const char *text = p->src + t->start;
    if (p->failed)
        return -1;
    if (t->type == T_END)
        return fail(p, t->start, "unexpected end of condition");
    if (tok_is_kw(p, "lambda"))
        return fail(p, t->start, "lambda is not allowed");
    if (tok_is_kw(p, "for"))
        return fail(p, t->start, "comprehensions are not allowed");
    if (tok_is_kw(p, "import") || tok_is_kw(p, "from"))
        return fail(p, t->start, "import is not allowed");
    if (is_blocked_kw(p))
        return fail(p, t->start, "'%.*s' is not allowed in a condition", n, text);
    if (t->type == T_OP) {
        switch (t->op) {
        case O_WALRUS:
            return fail(p, t->start, "assignment expressions (:=) are not allowed");
        case O_ASSIGN: case O_AUGASSIGN:
            return fail(p, t->start, "assignment is not allowed (use == to compare)");
        case O_UNSUPPORTED:
            return fail(p, t->start, "operator '%.*s' is not supported", n, text);
        case O_SEMI:
            return fail(p, t->start, "only one expression is allowed");
        }
    }
    if (t->len > 24)
        return fail(p, t->start, "unexpected '%.*s...'", n, text);
    return fail(p, t->start, "unexpected '%.*s'", n, text);
}

static int expect_op(parser *p, int op, const char *what)
{
    if (!tok_is_op(p, op)) {
        if (p->t.type == T_END || p->t.type == T_OP)
            return fail(p, p->t.start, "expected '%s'", what);
        return unexpected(p);
    }
    return advance(p);
}

static int enter(parser *p)
{
    if (++p->depth > COND_MAX_DEPTH)
        return fail(p, p->t.start, "expression nested too deeply (limit %d)", COND_MAX_DEPTH);
    return 0;
}

static int new_node(parser *p, int kind, size_t col)
{
    if (p->n >= COND_MAX_NODES)
        return fail(p, col, "expression too large (limit %d nodes)", COND_MAX_NODES);
    cond_node *nd = &p->nodes[p->n];
    memset(nd, 0, sizeof *nd);
    nd->kind = (uint8_t)kind;
    nd->col = (uint16_t)(col + 1);
    nd->a = nd->b = nd->c = nd->next = -1;
    nd->height = 1;
    return p->n++;
}

static int list_height(parser *p, int i)
{
    int h = 0;
    for (; i >= 0; i = p->nodes[i].next)
        if (p->nodes[i].height > h)
            h = p->nodes[i].height;
    return h;
}

/* Records the finished node's height; a tree taller than the limit could
 * exhaust a small thread stack in the recursive evaluator. */
static int seal(parser *p, int idx)
{
    cond_node *nd = &p->nodes[idx];
    int h = list_height(p, nd->a);
    int hb = list_height(p, nd->b), hc = list_height(p, nd->c);
    if (hb > h) h = hb;
    if (hc > h) h = hc;
    if (h + 1 > COND_MAX_DEPTH)
        return fail(p, (size_t)nd->col - 1, "expression nested too deeply (limit %d)", COND_MAX_DEPTH);
    nd->height = (uint8_t)(h + 1);
    return idx;
}

static int pool_string(parser *p, size_t start, size_t len, uint32_t *off)
{
    *off = (uint32_t)p->pool_len;
    if (pool_put(p, p->src + start, len) < 0 || pool_byte(p, 0) < 0)
        return -1;
    return 0;
}

static int parse_expr(parser *p);

/* Comma-separated expressions up to `close`, trailing comma allowed.
 * Returns the head of the list (-1 when empty) through *head. */
static int parse_list(parser *p, int close, const char *closes, int *head, int *count)
{
    int tail = -1;
    *head = -1;
    *count = 0;
    while (!tok_is_op(p, close)) {
        int e = parse_expr(p);
        if (e < 0)
            return -1;
        if (tail < 0) *head = e; else p->nodes[tail].next = (int16_t)e;
        tail = e;
        (*count)++;
        if (tok_is_op(p, O_ASSIGN) && close == O_RPAR)
            return fail(p, p->t.start, "keyword arguments are not supported");
        if (tok_is_op(p, O_COMMA)) {
            if (advance(p) < 0)
                return -1;
            continue;
        }
        if (!tok_is_op(p, close))
            return p->t.type == T_OP && p->t.op <= O_LAST_OK && p->t.op != O_COLON
                ? fail(p, p->t.start, "expected ',' or '%s'", closes) : unexpected(p);
    }
    return advance(p);
}

static int parse_dict(parser *p, size_t col)
{
    int d = new_node(p, CN_DICT, col), tail = -1;
    if (d < 0)
        return -1;
    while (!tok_is_op(p, O_RBRACE)) {
        int k = parse_expr(p);
        if (k < 0)
            return -1;
        if (!tok_is_op(p, O_COLON)) {
            if (tok_is_op(p, O_COMMA) || tok_is_op(p, O_RBRACE))
                return fail(p, p->t.start, "expected ':' (set literals are not supported)");
            return unexpected(p);
        }
        if (advance(p) < 0)
            return -1;
        int v = parse_expr(p);
        if (v < 0)
            return -1;
        p->nodes[k].next = (int16_t)v;
        if (tail < 0) p->nodes[d].a = (int16_t)k; else p->nodes[tail].next = (int16_t)k;
        tail = v;
        if (tok_is_op(p, O_COMMA)) {
            if (advance(p) < 0)
                return -1;
        } else if (!tok_is_op(p, O_RBRACE)) {
            return unexpected(p);
        }
    }
    if (advance(p) < 0)
        return -1;
    return seal(p, d);
}

static int lookup(const char *const *table, const char *s, size_t n)
{
    for (int k = 1; table[k]; k++)
        if (strlen(table[k]) == n && memcmp(table[k], s, n) == 0)
            return k;
    return 0;
}

static int parse_name(parser *p)
{
    token t = p->t;
    const char *s = p->src + t.start;
    if (tok_is_kw(p, "True") || tok_is_kw(p, "False") || tok_is_kw(p, "None")) {
        int c = new_node(p, CN_CONST, t.start);
        if (c < 0)
            return -1;
        p->nodes[c].op = s[0] == 'T' ? CC_TRUE : s[0] == 'F' ? CC_FALSE : CC_NONE;
        return advance(p) < 0 ? -1 : c;
    }
    static const char *const soft[] = { "and", "or", "not", "if", "else", "in", "is", NULL };
    for (int k = 0; soft[k]; k++)
        if (tok_is_kw(p, soft[k]))
            return unexpected(p);
    if (is_blocked_kw(p))
        return unexpected(p);
    if (t.len >= 2 && s[0] == '_' && s[1] == '_')
        return fail(p, t.start, "name '%.*s' is not allowed (names starting with '__' are blocked)",
                    t.len > 40 ? 40 : (int)t.len, s);
    int nd = new_node(p, CN_NAME, t.start);
    if (nd < 0)
        return -1;
    uint32_t off;
    if (pool_string(p, t.start, t.len, &off) < 0)
        return -1;
    p->nodes[nd].v.s.off = off;
    p->nodes[nd].v.s.len = (uint32_t)t.len;
    p->nodes[nd].op = (uint8_t)lookup(fixed_names, s, t.len);
    return advance(p) < 0 ? -1 : nd;
}

static int parse_strings(parser *p)
{
    int type = p->t.type;
    int nd = new_node(p, type == T_STR ? CN_STR : CN_BYTES, p->t.start);
    if (nd < 0)
        return -1;
    uint32_t off = p->t.soff, len = 0;
    /* Adjacent literals concatenate; each was decoded right after the last. */
    while (p->t.type == T_STR || p->t.type == T_BYTES) {
        if (p->t.type != type)
            return fail(p, p->t.start, "cannot mix bytes and str literals");
        len += p->t.slen;
        if (advance(p) < 0)
            return -1;
    }
    p->nodes[nd].v.s.off = off;
    p->nodes[nd].v.s.len = len;
    if (pool_byte(p, 0) < 0)
        return -1;
    return nd;
}

static int parse_paren(parser *p, size_t col)
{
    if (tok_is_op(p, O_RPAR)) {
        int t = new_node(p, CN_TUPLE, col);
        return t < 0 || advance(p) < 0 ? -1 : t;
    }
    int e = parse_expr(p);
    if (e < 0)
        return -1;
    if (tok_is_op(p, O_RPAR))
        return advance(p) < 0 ? -1 : e;
    if (!tok_is_op(p, O_COMMA))
        return p->t.type == T_END ? fail(p, p->t.start, "expected ')'") : unexpected(p);
    if (advance(p) < 0)
        return -1;
    int t = new_node(p, CN_TUPLE, col), head, count;
    if (t < 0 || parse_list(p, O_RPAR, ")", &head, &count) < 0)
        return -1;
    p->nodes[t].a = (int16_t)e;
    p->nodes[e].next = (int16_t)head;
    return seal(p, t);
}

static int parse_atom(parser *p)
{
    token t = p->t;
    int nd;
    switch (t.type) {
    case T_NAME:
        return parse_name(p);
    case T_INT: case T_FLOAT:
        nd = new_node(p, t.type == T_INT ? CN_INT : CN_FLOAT, t.start);
        if (nd < 0)
            return -1;
        if (t.type == T_INT) p->nodes[nd].v.i = t.i; else p->nodes[nd].v.f = t.f;
        return advance(p) < 0 ? -1 : nd;
    case T_BIGINT:
        nd = new_node(p, CN_BIGINT, t.start);
        if (nd < 0 || pool_byte(p, 0) < 0)
            return -1;
        p->nodes[nd].v.s.off = t.soff;
        p->nodes[nd].v.s.len = t.slen;
        p->nodes[nd].op = (uint8_t)t.base;
        return advance(p) < 0 ? -1 : nd;
    case T_STR: case T_BYTES:
        return parse_strings(p);
    case T_OP:
        if (t.op == O_LPAR || t.op == O_LBRK || t.op == O_LBRACE) {
            /* parse_expr counts the nesting of what is inside. */
            if (advance(p) < 0)
                return -1;
            if (t.op == O_LPAR)
                nd = parse_paren(p, t.start);
            else if (t.op == O_LBRACE)
                nd = parse_dict(p, t.start);
            else {
                int head, count;
                nd = new_node(p, CN_LIST, t.start);
                if (nd < 0 || parse_list(p, O_RBRK, "]", &head, &count) < 0)
                    return -1;
                p->nodes[nd].a = (int16_t)head;
                nd = seal(p, nd);
            }
            return nd;
        }
        return unexpected(p);
    }
    return unexpected(p);
}

/* The part of a subscript after '[': an index, or a slice lo:hi:step. */
static int parse_subscript(parser *p, size_t col)
{
    int lo = -1, hi = -1, step = -1;
    if (!tok_is_op(p, O_COLON)) {
        lo = parse_expr(p);
        if (lo < 0)
            return -1;
        if (tok_is_op(p, O_RBRK))
            return advance(p) < 0 ? -1 : lo;
        if (!tok_is_op(p, O_COLON))
            return tok_is_op(p, O_COMMA)
                ? fail(p, p->t.start, "tuple subscripts are not supported")
                : p->t.type == T_END ? fail(p, p->t.start, "expected ']'") : unexpected(p);
    }
    int sl = new_node(p, CN_SLICE, col);
    if (sl < 0 || advance(p) < 0)
        return -1;
    if (!tok_is_op(p, O_COLON) && !tok_is_op(p, O_RBRK) && (hi = parse_expr(p)) < 0)
        return -1;
    if (tok_is_op(p, O_COLON)) {
        if (advance(p) < 0)
            return -1;
        if (!tok_is_op(p, O_RBRK) && (step = parse_expr(p)) < 0)
            return -1;
    }
    if (expect_op(p, O_RBRK, "]") < 0)
        return -1;
    p->nodes[sl].a = (int16_t)lo;
    p->nodes[sl].b = (int16_t)hi;
    p->nodes[sl].c = (int16_t)step;
    return seal(p, sl);
}

static int parse_call_args(parser *p, int *head)
{
    int count;
    if (advance(p) < 0)
        return -1;
    return parse_list(p, O_RPAR, ")", head, &count);
}

static int parse_dot(parser *p, int obj)
{
    if (advance(p) < 0)
        return -1;
    token t = p->t;
    const char *s = p->src + t.start;
    int n = t.len > 40 ? 40 : (int)t.len;
    if (t.type != T_NAME || is_keyword(p))
        return fail(p, t.start, "expected an attribute name after '.'");
    if (s[0] == '_')
        return fail(p, t.start, "attribute '%.*s' is not allowed (names starting with '_' are blocked)", n, s);
    if (advance(p) < 0)
        return -1;
    int nd = new_node(p, CN_ATTR, t.start);
    uint32_t off;
    if (nd < 0 || pool_string(p, t.start, t.len, &off) < 0)
        return -1;
    cond_node *x = &p->nodes[nd];
    x->a = (int16_t)obj;
    x->v.s.off = off;
    x->v.s.len = (uint32_t)t.len;
    if (tok_is_op(p, O_LPAR)) {
        int m = lookup(cond_method_names, s, t.len), head;
        if (!m)
            return fail(p, t.start, "method '%.*s' is not allowed; allowed: startswith endswith "
                        "lower upper strip lstrip rstrip split find count replace isdigit isalpha "
                        "(str, bytes), get keys values items (dict), count index (list, tuple)", n, s);
        if (parse_call_args(p, &head) < 0)
            return -1;
        x = &p->nodes[nd];
        x->kind = CN_METHOD;
        x->op = (uint8_t)m;
        x->b = (int16_t)head;
    }
    return seal(p, nd);
}

static int parse_postfix(parser *p)
{
    int nd = parse_atom(p);
    while (nd >= 0) {
        size_t col = p->t.start;
        if (tok_is_op(p, O_LBRK)) {
            if (advance(p) < 0)
                return -1;
            int idx = parse_subscript(p, col);
            if (idx < 0)
                return -1;
            int s = new_node(p, CN_SUBSCRIPT, col);
            if (s < 0)
                return -1;
            p->nodes[s].a = (int16_t)nd;
            p->nodes[s].b = (int16_t)idx;
            nd = seal(p, s);
        } else if (tok_is_op(p, O_DOT)) {
            nd = parse_dot(p, nd);
        } else if (tok_is_op(p, O_LPAR)) {
            cond_node *x = &p->nodes[nd];
            const char *name = p->pool + x->v.s.off;
            if (x->kind != CN_NAME)
                return fail(p, col, "only len, str, int, float, bool, abs, min, max and "
                            "whitelisted methods can be called");
            int f = lookup(cond_func_names, name, x->v.s.len), head;
            if (!f)
                return fail(p, (size_t)x->col - 1, "'%.40s' cannot be called; only len, str, int, "
                            "float, bool, abs, min, max can", name);
            if (parse_call_args(p, &head) < 0)
                return -1;
            x = &p->nodes[nd];
            x->kind = CN_CALL;
            x->op = (uint8_t)f;
            x->a = (int16_t)head;
            nd = seal(p, nd);
        } else {
            break;
        }
    }
    return nd;
}

static int parse_factor(parser *p);

static int parse_power(parser *p)
{
    int base = parse_postfix(p);
    if (base < 0 || !tok_is_op(p, O_DSTAR))
        return base;
    size_t col = p->t.start;
    if (enter(p) < 0 || advance(p) < 0)
        return -1;
    int ex = parse_factor(p);
    if (ex < 0)
        return -1;
    p->depth--;
    int nd = new_node(p, CN_ARITH, col);
    if (nd < 0)
        return -1;
    p->nodes[nd].a = (int16_t)base;
    p->nodes[base].next = (int16_t)ex;
    p->nodes[ex].cop = CA_POW;
    return seal(p, nd);
}

static int parse_factor(parser *p)
{
    int op = tok_is_op(p, O_MINUS) ? CU_NEG : tok_is_op(p, O_PLUS) ? CU_POS
           : tok_is_op(p, O_TILDE) ? CU_INVERT : 0;
    if (!op)
        return parse_power(p);
    size_t col = p->t.start;
    if (enter(p) < 0 || advance(p) < 0)
        return -1;
    int e = parse_factor(p);
    if (e < 0)
        return -1;
    p->depth--;
    int nd = new_node(p, CN_UNARY, col);
    if (nd < 0)
        return -1;
    p->nodes[nd].op = (uint8_t)op;
    p->nodes[nd].a = (int16_t)e;
    return seal(p, nd);
}

/* Left-associative chain `x op y op z` as one node whose children carry
 * their operator in cop; op_of() maps the current token to an operator. */
static int parse_chain(parser *p, int kind, int node_op, int (*sub)(parser *),
                       int (*op_of)(parser *))
{
    int first = sub(p);
    if (first < 0)
        return -1;
    int op = op_of(p);
    if (!op)
        return first;
    int nd = new_node(p, kind, (size_t)p->nodes[first].col - 1), tail = first;
    if (nd < 0)
        return -1;
    p->nodes[nd].a = (int16_t)first;
    p->nodes[nd].op = (uint8_t)node_op;
    while (op) {
        if (op < 0)
            return -1;
        int e = sub(p);
        if (e < 0)
            return -1;
        p->nodes[e].cop = (uint8_t)op;
        p->nodes[tail].next = (int16_t)e;
        tail = e;
        op = op_of(p);
    }
    return seal(p, nd);
}

static int adv_ret(parser *p, int op) { return advance(p) < 0 ? -1 : op; }

static int term_op(parser *p)
{
    if (p->t.type != T_OP) return 0;
    switch (p->t.op) {
    case O_STAR: return adv_ret(p, CA_MUL);
    case O_SLASH: return adv_ret(p, CA_DIV);
    case O_DSLASH: return adv_ret(p, CA_FLOORDIV);
    case O_PCT: return adv_ret(p, CA_MOD);
    }
    return 0;
}

static int arith_op(parser *p)
{
    if (tok_is_op(p, O_PLUS)) return adv_ret(p, CA_ADD);
    if (tok_is_op(p, O_MINUS)) return adv_ret(p, CA_SUB);
    return 0;
}

static int cmp_op(parser *p)
{
    if (p->t.type == T_OP) {
        switch (p->t.op) {
        case O_LT: return adv_ret(p, CMP_LT);
        case O_LE: return adv_ret(p, CMP_LE);
        case O_EQ: return adv_ret(p, CMP_EQ);
        case O_NE: return adv_ret(p, CMP_NE);
        case O_GT: return adv_ret(p, CMP_GT);
        case O_GE: return adv_ret(p, CMP_GE);
        }
        return 0;
    }
    if (tok_is_kw(p, "in"))
        return adv_ret(p, CMP_IN);
    if (tok_is_kw(p, "is")) {
        if (advance(p) < 0)
            return -1;
        return tok_is_kw(p, "not") ? adv_ret(p, CMP_IS_NOT) : CMP_IS;
    }
    if (tok_is_kw(p, "not")) {
        if (advance(p) < 0)
            return -1;
        if (!tok_is_kw(p, "in"))
            return fail(p, p->t.start, "expected 'in' after 'not'");
        return adv_ret(p, CMP_NOT_IN);
    }
    return 0;
}

static int and_op(parser *p) { return tok_is_kw(p, "and") ? adv_ret(p, CB_AND) : 0; }
static int or_op(parser *p) { return tok_is_kw(p, "or") ? adv_ret(p, CB_OR) : 0; }

static int parse_term(parser *p) { return parse_chain(p, CN_ARITH, 0, parse_factor, term_op); }
static int parse_arith(parser *p) { return parse_chain(p, CN_ARITH, 0, parse_term, arith_op); }
static int parse_compare(parser *p) { return parse_chain(p, CN_COMPARE, 0, parse_arith, cmp_op); }

static int parse_not(parser *p)
{
    if (!tok_is_kw(p, "not"))
        return parse_compare(p);
    size_t col = p->t.start;
    if (enter(p) < 0 || advance(p) < 0)
        return -1;
    int e = parse_not(p);
    if (e < 0)
        return -1;
    p->depth--;
    int nd = new_node(p, CN_NOT, col);
    if (nd < 0)
        return -1;
    p->nodes[nd].a = (int16_t)e;
    return seal(p, nd);
}

static int parse_and(parser *p) { return parse_chain(p, CN_BOOL, CB_AND, parse_not, and_op); }
static int parse_or(parser *p) { return parse_chain(p, CN_BOOL, CB_OR, parse_and, or_op); }

static int parse_expr(parser *p)
{
    if (enter(p) < 0)
        return -1;
    int body = parse_or(p);
    if (body < 0)
        return -1;
    if (tok_is_kw(p, "if")) {
        size_t col = p->t.start;
        if (advance(p) < 0)
            return -1;
        int test = parse_or(p);
        if (test < 0)
            return -1;
        if (!tok_is_kw(p, "else"))
            return p->t.type == T_END ? fail(p, p->t.start, "expected 'else'") : unexpected(p);
        if (advance(p) < 0)
            return -1;
        int orelse = parse_expr(p);
        if (orelse < 0)
            return -1;
        int nd = new_node(p, CN_IFEXP, col);
        if (nd < 0)
            return -1;
        p->nodes[nd].a = (int16_t)body;
        p->nodes[nd].b = (int16_t)test;
        p->nodes[nd].c = (int16_t)orelse;
        body = seal(p, nd);
    }
    p->depth--;
    return body;
}

/* ---- API ---- */

static peeka_cond *finish(parser *p, int root)
{
    size_t nodes_sz = (size_t)p->n * sizeof(cond_node);
    char *mem = malloc(sizeof(peeka_cond) + nodes_sz + p->pool_len + 1);
    if (!mem) {
        fail(p, 0, "out of memory");
        return NULL;
    }
    peeka_cond *c = (peeka_cond *)mem;
    cond_node *nodes = (cond_node *)(mem + sizeof(peeka_cond));
    char *pool = mem + sizeof(peeka_cond) + nodes_sz;
    memcpy(nodes, p->nodes, nodes_sz);
    memcpy(pool, p->pool, p->pool_len);
    pool[p->pool_len] = 0;
    c->nodes = nodes;
    c->nnodes = p->n;
    c->root = root;
    c->pool = pool;
    return c;
}

peeka_cond *peeka_cond_compile(const char *src, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = 0;
    size_t len = src ? strlen(src) : 0;
    if (len > COND_MAX_SRC) {
        if (err && errlen)
            snprintf(err, errlen, "col %d: condition longer than %d bytes", COND_MAX_SRC + 1, COND_MAX_SRC);
        return NULL;
    }
    parser *p = calloc(1, sizeof *p);
    /* Decoded text never outgrows its source; each node adds at most a NUL. */
    size_t cap = 2 * len + COND_MAX_NODES + 16;
    char *pool = malloc(cap);
    if (!p || !pool) {
        free(p);
        free(pool);
        if (err && errlen)
            snprintf(err, errlen, "col 1: out of memory");
        return NULL;
    }
    p->src = src ? src : "";
    p->len = len;
    p->pool = pool;
    p->pool_cap = cap;
    p->err = err;
    p->errlen = errlen;

    peeka_cond *c = NULL;
    int root = -1;
    if (advance(p) == 0) {
        if (p->t.type == T_END)
            fail(p, p->t.start, "empty condition");
        else if ((root = parse_expr(p)) >= 0 && p->t.type != T_END)
            unexpected(p);
    }
    if (!p->failed)
        c = finish(p, root);
    free(pool);
    free(p);
    return c;
}

void peeka_cond_free(peeka_cond *c)
{
    free(c);
}

int peeka_cond_uses(const peeka_cond *c, const char *name)
{
    if (!c || !name)
        return 0;
    for (int k = 0; k < c->nnodes; k++)
        if (c->nodes[k].kind == CN_NAME && strcmp(c->pool + c->nodes[k].v.s.off, name) == 0)
            return 1;
    return 0;
}

int peeka_cond_any_text(const peeka_cond *c, int (*fn)(void *ctx, const char *s, size_t n), void *ctx)
{
    for (int k = 0; c && k < c->nnodes; k++) {
        const cond_node *nd = &c->nodes[k];
        if ((nd->kind == CN_NAME || nd->kind == CN_ATTR || nd->kind == CN_STR || nd->kind == CN_BYTES) &&
            fn(ctx, c->pool + nd->v.s.off, nd->v.s.len))
            return 1;
    }
    return 0;
}

int peeka_cond_uses_method(const peeka_cond *c, const char *name)
{
    for (int k = 0; c && name && k < c->nnodes; k++)
        if (c->nodes[k].kind == CN_METHOD && strcmp(c->pool + c->nodes[k].v.s.off, name) == 0)
            return 1;
    return 0;
}
