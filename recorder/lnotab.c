#include "lnotab.h"

#define NO_LINE (-128)

/* As 3.8's PyCode_Addr2Line: the line of the last pair that starts at or
 * before offset. */
int pk_line_of_lnotab(const uint8_t *table, size_t len, int firstlineno, int64_t offset)
{
    int64_t line = firstlineno, addr = 0;
    for (size_t i = 0; i + 1 < len; i += 2) {
        addr += table[i];
        if (addr > offset)
            break;
        line += (int8_t)table[i + 1];
    }
    return line < 0 || line > INT32_MAX ? -1 : (int)line;
}

/* As 3.10's PyCode_Addr2Line: each pair is a range [start, start + delta)
 * on one line; ranges of no bytes only move the line. */
int pk_line_of_pep626(const uint8_t *table, size_t len, int firstlineno, int64_t offset)
{
    int64_t line = firstlineno, start = 0;
    if (offset < 0)
        return firstlineno;
    for (size_t i = 0; i + 1 < len; i += 2) {
        int delta = (int8_t)table[i + 1];
        int64_t end = start + table[i];
        if (delta != NO_LINE)
            line += delta;
        if (offset < end)
            return delta == NO_LINE || line < 0 || line > INT32_MAX ? -1 : (int)line;
        start = end;
    }
    return -1;
}
