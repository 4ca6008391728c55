/* Probe patterns (`app.views.checkout`, `app.*.handle_*`): the one rule for
 * splitting them into dotted parts, shared by peeka-rec (which refuses a bad
 * pattern before attaching) and the agent (which resolves it). */
#ifndef PEEKA_PATTERN_H
#define PEEKA_PATTERN_H

#include <stddef.h>

#define PEEKA_PATTERN_MAX 1024   /* bytes, with the terminating NUL */
#define PEEKA_PATTERN_PARTS 32

/* Splits `src` at dots into `parts` (pointing into `buf`, which must hold
 * PEEKA_PATTERN_MAX bytes).  Returns the number of parts, or -1 with a
 * message naming the problem: too long, too many parts, an empty part ("a..b"
 * names part 2), or fewer than two parts. */
int peeka_pattern_split(const char *src, char *buf, char **parts, char *err, size_t errlen);

#endif
