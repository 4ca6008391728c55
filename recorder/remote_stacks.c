#include "remote_stacks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "debug_read.h"
#include "line_table.h"

/* _PyInterpreterFrame.owner: 3 and up are the interpreter's own shim
 * frames (FRAME_OWNED_BY_CSTACK on 3.13; _BY_INTERPRETER, _BY_CSTACK on
 * 3.14+), never a Python function; above 4 it is no owner at all. */
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

static uint64_t f_off(const reader *r, uint32_t field)
{
    return dv_off(&r->v, field);
}

/* obj's type is the builtin `name` (code, str, bytes): its tp_name read
 * the first time, the type's address compared afterwards. */
static int is_type(reader *r, uint64_t obj, uint64_t *known, const char *name)
{
    uint64_t type = obj ? dv_ptr(&r->v, obj + f_off(r, r->v.L->ob_type)) : 0;
    if (!type)
        return 0;
    if (*known)
        return type == *known;
    char got[16];
    size_t n = strlen(name) + 1;
    uint64_t at = dv_ptr(&r->v, type + f_off(r, r->v.L->tp_name));
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
    const rx_layout *L = r->v.L;
    uint32_t state = 0;
    int64_t length = 0;
    out[0] = 0;
    if (!is_type(r, addr, &r->str_type, "str") ||
        dv_read(r->v.pid, addr + f_off(r, L->str_state), &state, sizeof state) < 0 ||
        dv_read(r->v.pid, addr + f_off(r, L->str_length), &length, sizeof length) < 0)
        return -1;
    unsigned kind = STATE_KIND(state);
    if (!STATE_COMPACT(state) || (kind != 1 && kind != 2 && kind != 4) || length < 0)
        return -1;
    size_t n = (size_t)length < STR_MAX_CHARS ? (size_t)length : STR_MAX_CHARS;
    n = n < cap ? n : cap;   /* no more characters than bytes could hold */
    uint64_t data = addr + (STATE_ASCII(state) ? f_off(r, L->str_ascii_size) : L->str_compact_size);
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
        dv_read(r->v.pid, bytes + f_off(r, r->v.L->bytes_size), &size, sizeof size) < 0 ||
        size < 0 || size > RS_TABLE_MAX || !(*table = malloc(size ? (size_t)size : 1)))
        return -1;
    *len = (size_t)size;
    if (dv_read(r->v.pid, bytes + f_off(r, r->v.L->bytes_sval), *table, *len) < 0) {
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
    const rx_layout *L = r->v.L;
    int32_t first = 0;
    c->addr = addr;
    if (read_str(r, dv_ptr(&r->v, addr + f_off(r, L->co_filename)), c->file, sizeof c->file) < 0 ||
        read_str(r, dv_ptr(&r->v, addr + f_off(r, L->co_name)), c->func, sizeof c->func) < 0 ||
        dv_read(r->v.pid, addr + f_off(r, L->co_firstlineno), &first, sizeof first) < 0)
        return -1;
    c->firstline = first;
    if (read_table(r, dv_ptr(&r->v, addr + f_off(r, L->co_linetable)), &c->table, &c->table_len) < 0)
        c->table = NULL;   /* its lines are unknown, its name is not */
    return (int)s->ncodes++;
}

/* The line being run in code c, at instruction address ip. */
static int line_in(reader *r, const rs_code *c, uint64_t ip)
{
    uint64_t start = c->addr + f_off(r, r->v.L->co_code_adaptive);
    if (ip < start || !c->table)
        return -1;
    return pk_line_of(c->table, c->table_len, c->firstline, (int64_t)((ip - start) / 2));
}

typedef struct frame_fields {
    uint64_t previous, executable, instr_ptr;
    uint8_t owner;
} frame_fields;

static int read_frame(reader *r, uint64_t at, frame_fields *f)
{
    const rx_layout *L = r->v.L;
    uint64_t o[4] = {f_off(r, L->fr_previous), f_off(r, L->fr_executable),
                     f_off(r, L->fr_instr_ptr), f_off(r, L->fr_owner)};
    uint8_t buf[FRAME_BYTES];
    size_t hi = 0;
    for (int i = 0; i < 4; i++)
        hi = o[i] + 8 > hi ? o[i] + 8 : hi;
    if (hi > sizeof buf || dv_read(r->v.pid, at, buf, hi) < 0)
        return -1;
    memcpy(&f->previous, buf + o[0], 8);
    memcpy(&f->executable, buf + o[1], 8);
    memcpy(&f->instr_ptr, buf + o[2], 8);
    f->owner = buf[o[3]];
    f->executable &= ~STACKREF_TAGS;
    return 0;
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
        int code = code_of(r, f.executable);
        if (code < 0) {
            t->cut = "a frame's code object could not be read (the thread moved on?)";
            return;
        }
        if (keep(t, max_depth, code, line_in(r, &r->s->codes[code], f.instr_ptr)) < 0) {
            t->cut = "out of memory";
            return;
        }
    }
    if (frame)
        t->cut = "more frames than peeka follows (4096): a loop?";
}

int rs_read(const peeka_target *t, int max_depth, rs_snapshot *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    reader *r = calloc(1, sizeof *r);
    uint64_t *ts = malloc(DV_MAX_TSTATES * sizeof *ts);
    char why[200];
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
    if (!(s->threads = calloc(n ? n : 1, sizeof *s->threads))) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    s->gil_locked = gil_known && gil.locked;
    for (size_t i = 0; i < n; i++) {
        rs_thread *th = &s->threads[s->nthreads++];
        th->thread_id = dv_ptr(&r->v, ts[i] + f_off(r, r->v.L->ts_thread_id));
        th->native_id = dv_native_id(&r->v, ts[i]);
        th->holds_gil = s->gil_locked && ts[i] == gil.holder_ts;
        if (th->holds_gil)
            s->gil_holder = th->native_id;
        walk(r, dv_ptr(&r->v, ts[i] + f_off(r, r->v.L->ts_current_frame)), max_depth, th);
    }
    rc = 0;
out:
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
