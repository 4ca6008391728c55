/* The CPython versions peeka supports: the one place that says so.
 * mk/pythons.sh reads these two lines too (which interpreters get an
 * agent), so keep them plain #defines. */
#ifndef PEEKA_PYVERSIONS_H
#define PEEKA_PYVERSIONS_H

#define PEEKA_PY_MINOR_MIN 8    /* 3.8 */
#define PEEKA_PY_MINOR_MAX 15   /* 3.15 */

#define PEEKA_STR_(x) #x
#define PEEKA_STR(x) PEEKA_STR_(x)
/* "3.8-3.15", for messages */
#define PEEKA_PY_RANGE "3." PEEKA_STR(PEEKA_PY_MINOR_MIN) "-3." PEEKA_STR(PEEKA_PY_MINOR_MAX)

#endif
