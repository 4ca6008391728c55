#include "remote_stacks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "debug_read.h"
#include "line_table.h"
#include "lnotab.h"

/* _PyInterpreterFrame.owner: 3 and up are the interpreter's own shim
 * frames (FRAME_OWNED_BY_CSTACK on 3.12, 3.13; _BY_INTERPRETER, _BY_CSTACK
 * on 3.14+), never a Python function; above 4 it is no owner at all.
 * 3.8-3.10's frames are PyFrameObjects, all of them Python's, no owner. */
#define OWNER_SHIM 3
#define OWNER_MAX 4
/* _PyStackRef's tag bits (3.14+: the low two); 3.13's plain pointer has
 * them clear. */
#define STACKREF_TAGS 3ull
#define FRAME_BYTES 512     /* bounds the fields of one frame we read */
#define STR_MAX_CHARS 4096  /* characters read of one string */

/* PyASCIIObject.state bits on GIL builds (cpython/unicodeobject.h). */
#define STATE_KIND(s) (((s) >> 2) & 7u)
#define STATE_COMPACT(s) (((s) >> 5) & 1u)
#define STATE_ASCII(s) (((s) >> 6) & 1u)

typedef struct reader {
    dbg_view v;
    uint64_t code_type, str_type, bytes_type;   /* each checked by name once */
    rs_snapshot *s;
} reader;

/* obj's type is the builtin `name` (code, str, bytes): its tp_name read
 * the first time, the type's address compared afterwards. */
static int is_type(reader *r, uint64_t obj, uint64_t *known, const char *name)
{
    uint64_t type = obj ? dv_ptr(&r->v, obj + r->v.o.ob_type) : 0;
    if (!type)
        return 0;
    if (*known)
        return type == *known;
    char got[16];
    size_t n = strlen(name) + 1;
    uint64_t at = dv_ptr(&r->v, type + r->v.o.tp_name);
    if (!at || n > sizeof got || dv_read(r->v.pid, at, got, n) < 0 || memcmp(got, name, n) != 0)
        return 0;
    *known = type;
    return 1;
}

/* Code point c as UTF-8 at out[k], if it fits in cap (one byte kept for
 * the NUL); a lone surrogate or an impossible value becomes U+FFFD. */
static size_t put_utf8(char *out, size_t k, size_t cap, uint32_t c)
{
    unsigned char b[4];
    size_t n;
    if ((c >= 0xd800 && c < 0xe000) || c > 0x10ffff)
        c = 0xfffd;
    if (c < 0x80) {
        b[0] = (unsigned char)c;
        n = 1;
    } else if (c < 0x800) {
        b[0] = (unsigned char)(0xc0 | (c >> 6));
        b[1] = (unsigned char)(0x80 | (c & 0x3f));
        n = 2;
    } else if (c < 0x10000) {
        b[0] = (unsigned char)(0xe0 | (c >> 12));
        b[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
        b[2] = (unsigned char)(0x80 | (c & 0x3f));
        n = 3;
    } else {
        b[0] = (unsigned char)(0xf0 | (c >> 18));
        b[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3f));
        b[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
        b[3] = (unsigned char)(0x80 | (c & 0x3f));
        n = 4;
    }
    if (k + n >= cap)
        return 0;
    memcpy(out + k, b, n);
    return n;
}

static uint32_t char_at(const uint8_t *data, unsigned kind, size_t i)
{
    if (kind == 1)
        return data[i];
    if (kind == 2) {
        uint16_t c;
        memcpy(&c, data + 2 * i, 2);
        return c;
    }
    uint32_t c;
    memcpy(&c, data + 4 * i, 4);
    return c;
}

/* The compact str at addr as UTF-8 in out (cut to cap), 0; -1 when it is
 * no str or cannot be read. */
static int read_str(reader *r, uint64_t addr, char *out, size_t cap)
{
    const pk_py_layout *L = &r->v.o;
    uint32_t state = 0;
    int64_t length = 0;
    out[0] = 0;
    if (!is_type(r, addr, &r->str_type, "str") ||
        dv_read(r->v.pid, addr + L->str_state, &state, sizeof state) < 0 ||
        dv_read(r->v.pid, addr + L->str_length, &length, sizeof length) < 0)
        return -1;
    unsigned kind = STATE_KIND(state);
    if (!STATE_COMPACT(state) || (kind != 1 && kind != 2 && kind != 4) || length < 0)
        return -1;
    size_t n = (size_t)length < STR_MAX_CHARS ? (size_t)length : STR_MAX_CHARS;
    n = n < cap ? n : cap;   /* no more characters than bytes could hold */
    uint64_t data = addr + (STATE_ASCII(state) ? L->str_ascii_size : L->str_compact_size);
    uint8_t *buf = malloc(n * kind + 1);
    if (!buf || dv_read(r->v.pid, data, buf, n * kind) < 0) {
        free(buf);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t w = put_utf8(out, k, cap, char_at(buf, kind, i));
        if (!w)
            break;
        k += w;
    }
    out[k] = 0;
    free(buf);
    return 0;
}

/* The code object's line table (a bytes object), malloc'd into *table. */
static int read_table(reader *r, uint64_t bytes, uint8_t **table, size_t *len)
{
    int64_t size = 0;
    *table = NULL;
    if (!is_type(r, bytes, &r->bytes_type, "bytes") ||
        dv_read(r->v.pid, bytes + r->v.o.bytes_size, &size, sizeof size) < 0 ||
        size < 0 || size > RS_TABLE_MAX || !(*table = malloc(size ? (size_t)size : 1)))
        return -1;
    *len = (size_t)size;
    if (dv_read(r->v.pid, bytes + r->v.o.bytes_sval, *table, *len) < 0) {
        free(*table);
        *table = NULL;
        return -1;
    }
    return 0;
}

/* Room for one more code object in s->codes. */
static rs_code *code_slot(rs_snapshot *s)
{
    if (s->ncodes == s->codes_cap) {
        size_t cap = s->codes_cap ? s->codes_cap * 2 : 32;
        rs_code *g = realloc(s->codes, cap * sizeof *g);
        if (!g)
            return NULL;
        s->codes = g;
        s->codes_cap = cap;
    }
    return &s->codes[s->ncodes];
}

/* The index of the code object at addr in s->codes, read the first time
 * it is met (its line table too); -1 when it is no code object or cannot
 * be read. */
static int code_of(reader *r, uint64_t addr)
{
    rs_snapshot *s = r->s;
    for (size_t i = 0; i < s->ncodes; i++)
        if (s->codes[i].addr == addr)
            return (int)i;
    rs_code *c;
    if (s->ncodes >= RS_CODES_MAX || !is_type(r, addr, &r->code_type, "code") ||
        !(c = code_slot(s)))
        return -1;
    const pk_py_layout *L = &r->v.o;
    int32_t first = 0;
    c->addr = addr;
    if (read_str(r, dv_ptr(&r->v, addr + L->co_filename), c->file, sizeof c->file) < 0 ||
        read_str(r, dv_ptr(&r->v, addr + L->co_name), c->func, sizeof c->func) < 0 ||
        dv_read(r->v.pid, addr + L->co_firstlineno, &first, sizeof first) < 0)
        return -1;
    c->firstline = first;
    if (read_table(r, dv_ptr(&r->v, addr + L->co_linetable), &c->table, &c->table_len) < 0)
        c->table = NULL;   /* its lines are unknown, its name is not */
    return (int)s->ncodes++;
}

/* The line being run in code c: instr is where the frame is, an
 * instruction's address from 3.11 on, f_lasti before (in bytes up to 3.9,
 * in 2-byte code units on 3.10). */
static int line_in(reader *r, const rs_code *c, uint64_t instr)
{
    if (!c->table)
        return -1;
    if (r->v.minor <= 10) {
        int64_t lasti = (int32_t)(uint32_t)instr;
        return r->v.minor == 10 ? pk_line_of_pep626(c->table, c->table_len, c->firstline, lasti * 2)
                                : pk_line_of_lnotab(c->table, c->table_len, c->firstline, lasti);
    }
    uint64_t start = c->addr + r->v.o.co_code_adaptive;
    if (instr < start)
        return -1;
    return pk_line_of(c->table, c->table_len, c->firstline, (int64_t)((instr - start) / 2));
}

typedef struct frame_fields {
    uint64_t previous, code, instr;
    uint8_t owner;
} frame_fields;

/* The fields of the frame at `at`: f_lasti is an int up to 3.10, and
 * there is no owner (0: a Python function's). */
static int read_frame(reader *r, uint64_t at, frame_fields *f)
{
    const pk_py_layout *L = &r->v.o;
    int old = r->v.minor <= 10;
    uint64_t o[4] = {L->fr_previous, L->fr_code, L->fr_instr, L->fr_owner};
    size_t w[4] = {8, 8, old ? 4 : 8, old ? 0 : 1};
    uint8_t buf[FRAME_BYTES];
    size_t hi = 0;
    for (int i = 0; i < 4; i++)
        hi = o[i] + w[i] > hi ? o[i] + w[i] : hi;
    if (hi > sizeof buf || dv_read(r->v.pid, at, buf, hi) < 0)
        return -1;
    memcpy(&f->previous, buf + o[0], 8);
    memcpy(&f->code, buf + o[1], 8);
    if (old) {
        uint32_t lasti;
        memcpy(&lasti, buf + o[2], 4);
        f->instr = lasti;
    } else {
        memcpy(&f->instr, buf + o[2], 8);
    }
    f->owner = old ? 0 : buf[o[3]];
    f->code &= ~STACKREF_TAGS;
    return 0;
}

/* The innermost frame of thread state ts: 3.11 and 3.12 keep it in the
 * thread's current _PyCFrame, the others in the thread state. */
static uint64_t top_frame(reader *r, uint64_t ts)
{
    uint64_t at = dv_ptr(&r->v, ts + r->v.o.ts_frame);
    if (at && (r->v.minor == 11 || r->v.minor == 12))
        at = dv_ptr(&r->v, at + r->v.o.cf_current_frame);
    return at;
}

/* One Python frame more on t's stack (kept while there is room). */
static int keep(rs_thread *t, int max_depth, int code, int line)
{
    if (t->nframes < max_depth) {
        if (!t->frames && !(t->frames = calloc((size_t)max_depth, sizeof *t->frames)))
            return -1;
        t->frames[t->nframes++] = (rs_frame){code, line};
    }
    t->depth++;
    return 0;
}

static void walk(reader *r, uint64_t frame, int max_depth, rs_thread *t)
{
    frame_fields f;
    int steps = 0;
    for (; frame && steps < RS_WALK_MAX; steps++, frame = f.previous) {
        if (read_frame(r, frame, &f) < 0) {
            t->cut = "a frame could not be read (the thread moved on?)";
            return;
        }
        if (f.owner > OWNER_MAX || f.previous == frame) {
            t->cut = "a frame is not one (the thread moved on?)";
            return;
        }
        if (f.owner >= OWNER_SHIM)
            continue;   /* the interpreter's entry frame between C and Python */
        int code = code_of(r, f.code);
        if (code < 0) {
            t->cut = "a frame's code object could not be read (the thread moved on?)";
            return;
        }
        if (keep(t, max_depth, code, line_in(r, &r->s->codes[code], f.instr)) < 0) {
            t->cut = "out of memory";
            return;
        }
    }
    if (frame)
        t->cut = "more frames than peeka follows (4096): a loop?";
}

/* Each thread of s from its state ts[i]: ids, whether it holds the GIL,
 * its stack. */
static void read_threads(reader *r, const uint64_t *ts, const uint64_t *native, size_t n,
                         const dv_gil *gil, int max_depth)
{
    rs_snapshot *s = r->s;
    for (size_t i = 0; i < n; i++) {
        rs_thread *th = &s->threads[s->nthreads++];
        th->thread_id = dv_ptr(&r->v, ts[i] + r->v.o.ts_thread_id);
        th->native_id = native[i];
        th->holds_gil = s->gil_locked && ts[i] == gil->holder_ts;
        if (th->holds_gil)
            s->gil_holder = th->native_id;
        walk(r, top_frame(r, ts[i]), max_depth, th);
    }
}

int rs_read(const peeka_target *t, int max_depth, rs_snapshot *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    reader *r = calloc(1, sizeof *r);
    uint64_t *ts = malloc(DV_MAX_TSTATES * sizeof *ts), *native = NULL;
    char why[400];
    int rc = -1;
    if (!r || !ts) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    r->s = s;
    if (dv_open(&r->v, t, why, sizeof why) < 0) {
        snprintf(err, errlen, "pid %d: its threads cannot be read from outside: %s", (int)t->pid, why);
        goto out;
    }
    dv_gil gil = {0};
    int gil_known = dv_gil_read(&r->v, &gil) == 0;
    size_t n = dv_tstates(&r->v, ts, DV_MAX_TSTATES);
    if (!(s->threads = calloc(n ? n : 1, sizeof *s->threads)) ||
        !(native = calloc(n ? n : 1, sizeof *native))) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    dv_native_ids(&r->v, ts, n, native);
    s->gil_locked = gil_known && gil.locked;
    read_threads(r, ts, native, n, &gil, max_depth);
    rc = 0;
out:
    free(native);
    free(ts);
    free(r);
    if (rc < 0)
        rs_free(s);
    return rc;
}

void rs_free(rs_snapshot *s)
{
    for (size_t i = 0; i < s->nthreads; i++)
        free(s->threads[i].frames);
    free(s->threads);
    for (size_t i = 0; i < s->ncodes; i++)
        free(s->codes[i].table);
    free(s->codes);
    memset(s, 0, sizeof *s);
}
