/* The line tables of CPython 3.8-3.10, decoded from a copy of the bytes
 * read out of another process (3.11+'s location table: line_table.h).
 * Both map a bytecode offset in bytes to a line, from co_firstlineno, and
 * never read past len: a table garbled by a racing read gives a wrong
 * line or -1, never a crash. */
#ifndef PEEKA_LNOTAB_H
#define PEEKA_LNOTAB_H

#include <stddef.h>
#include <stdint.h>

/* 3.8, 3.9: co_lnotab, pairs of (unsigned byte offset delta, signed line
 * delta) (Objects/lnotab_notes.txt of those versions). */
int pk_line_of_lnotab(const uint8_t *table, size_t len, int firstlineno, int64_t offset);

/* 3.10: co_linetable (PEP 626), pairs of (unsigned byte offset delta,
 * signed line delta) where a line delta of -128 means no line; -1 then, or
 * when the table does not cover offset. */
int pk_line_of_pep626(const uint8_t *table, size_t len, int firstlineno, int64_t offset);

#endif
