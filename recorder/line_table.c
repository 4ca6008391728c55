#include "line_table.h"

/* An entry starts with a byte whose top bit is set: 1 CCCC LLL, code C
 * and L + 1 code units; the bytes after it (top bit clear) are its
 * operands.  Codes: 15 no location; 14 long form (signed line delta,
 * then end line, columns); 13 no columns (signed line delta); 10-12 one
 * line, delta C - 10, two column bytes; 0-9 short form, same line, one
 * column byte. */
#define CODE_NONE 15
#define CODE_LONG 14
#define CODE_NO_COLUMN 13
#define CODE_ONE_LINE 10

typedef struct {
    const uint8_t *p, *end;
} cursor;

/* 6 bits per byte, least significant first, 0x40 says more follow. */
static int varint(cursor *c, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; c->p < c->end && shift < 64; shift += 6) {
        uint8_t b = *c->p++;
        v |= (uint64_t)(b & 0x3f) << shift;
        if (!(b & 0x40)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static int svarint(cursor *c, int64_t *out)
{
    uint64_t v;
    if (varint(c, &v) < 0)
        return -1;
    *out = (v & 1) ? -(int64_t)(v >> 1) : (int64_t)(v >> 1);
    return 0;
}

/* Past the operands of the entry just started, to the next entry. */
static void skip_operands(cursor *c)
{
    while (c->p < c->end && !(*c->p & 0x80))
        c->p++;
}

/* The line delta of an entry of this code, its operands consumed; -1
 * when they are cut short. */
static int line_delta(cursor *c, int code, int64_t *delta)
{
    *delta = 0;
    if (code == CODE_LONG || code == CODE_NO_COLUMN) {
        if (svarint(c, delta) < 0)
            return -1;
    } else if (code >= CODE_ONE_LINE && code < CODE_NO_COLUMN) {
        *delta = code - CODE_ONE_LINE;
    }
    skip_operands(c);
    return 0;
}

int pk_line_of(const uint8_t *table, size_t len, int firstlineno, int64_t unit)
{
    cursor c = {table, table + len};
    int64_t line = firstlineno, start = 0, delta;
    if (unit < 0)
        return -1;
    while (c.p < c.end) {
        uint8_t head = *c.p++;
        if (!(head & 0x80))
            return -1;   /* not the start of an entry: garbled */
        int code = (head >> 3) & 0x0f;
        int64_t units = (head & 7) + 1;
        if (line_delta(&c, code, &delta) < 0)
            return -1;
        if (code != CODE_NONE)
            line += delta;
        if (unit < start + units)
            return code == CODE_NONE || line < 0 || line > INT32_MAX ? -1 : (int)line;
        start += units;
    }
    return -1;
}
