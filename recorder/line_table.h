/* CPython 3.11+'s location table (co_linetable, Objects/locations.md in
 * CPython): which source line a bytecode instruction belongs to, decoded
 * from a copy of the bytes read out of another process. */
#ifndef PEEKA_LINE_TABLE_H
#define PEEKA_LINE_TABLE_H

#include <stddef.h>
#include <stdint.h>

/* The line of the instruction at code unit `unit` (0 is the first
 * instruction; a unit is 2 bytes), starting from the code object's
 * co_firstlineno; -1 when the table gives it no line or does not cover
 * it (a truncated or garbled table from a racing read ends the walk: it
 * never reads past len). */
int pk_line_of(const uint8_t *table, size_t len, int firstlineno, int64_t unit);

#endif
