/* Record prefilters, applied in C before a record reaches Lua: kind,
 * function glob, thread, location, cost range, time range, errors. */
#ifndef PA_PREFILTER_H
#define PA_PREFILTER_H

#include "record.h"

#include <stdint.h>

#define PA_FILTER_MAXV 16   /* alternatives per criterion */

typedef struct {
    int n;
    char *v[PA_FILTER_MAXV];
} pa_strset;

typedef struct {
    pa_strset kind, func, thread, location;  /* func/thread: globs */
    int64_t thread_id;
    int has_thread_id;
    int64_t min_cost_ns, max_cost_ns;
    int has_min_cost, has_max_cost;
    int64_t since_ns, until_ns;              /* absolute, ns since the epoch */
    int has_since, has_until;
    double from_s, to_s;                     /* relative to the session start */
    int has_from, has_to;
    int64_t probe_id;
    int has_probe;
    int errors;                              /* 1: failing calls only, 0: successes only */
    int has_errors;
} pa_filter;

void pa_filter_init(pa_filter *f);
void pa_filter_free(pa_filter *f);
/* Adds an alternative; -1 when the set is full or out of memory. */
int pa_strset_add(pa_strset *s, const char *v);

/* Resolves from/to against one archive's session start (ns). */
void pa_filter_set_start(pa_filter *f, int64_t start_ns, int has_start);

int pa_filter_match(const pa_filter *f, const pa_recview *v);

/* Glob match ('*', '?', '[...]'); '.' and '/' are ordinary characters. */
int pa_glob(const char *pat, const char *s, size_t n);

#endif
