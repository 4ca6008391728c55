/* watch --record EXPR: one expression of the condition language, or a
 * list of them written `{a, b, c}` (docs/conditions.md "Recording
 * values").  The agent compiles them; peeka-rec only splits the list. */
#ifndef PEEKA_RECORD_EXPR_H
#define PEEKA_RECORD_EXPR_H

#include <stddef.h>

#define RECORD_EXPRS_MAX 16

/* Appends the expressions of src to out[*n..max) (malloc'd, trimmed).
 * `{a, b}` is a list unless a ':' at its top level makes it a dict
 * literal, which is one expression.  -1 with a message for an empty
 * expression or too many of them. */
int record_split(const char *src, char **out, int *n, int max, char *err, size_t errlen);

#endif
