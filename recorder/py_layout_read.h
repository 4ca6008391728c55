/* The offsets of a CPython 3.8-3.12 (common/py_layout.h), read out of the
 * file of peeka's agent for that version: the agent is not loaded, its
 * ELF symbol table says where the table is. */
#ifndef PEEKA_PY_LAYOUT_READ_H
#define PEEKA_PY_LAYOUT_READ_H

#include <stddef.h>

#include "py_layout.h"

/* From the agent for 3.major.minor: 0, or -1 with why (no agent, no table
 * in it, a table of another version of peeka or of Python). */
int pk_py_layout_read(int major, int minor, pk_py_layout *out, char *why, size_t whylen);

/* The same from the agent file at path. */
int pk_py_layout_from(const char *path, int major, int minor, pk_py_layout *out, char *why,
                      size_t whylen);

#endif
