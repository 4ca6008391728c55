/* Streaming statistics: count/sum/mean/stddev/min/max always exact;
 * percentiles exact while the sample is small, then from a log-linear
 * histogram (128 buckets per power of two: relative error <= 0.4%), so
 * memory stays bounded however many values are added. */
#ifndef PA_STATS_H
#define PA_STATS_H

#include <stddef.h>
#include <stdint.h>

#define PA_STATS_EXACT_MAX 10000   /* hybrid mode folds into buckets past this */
#define PA_HIST_SUB 128             /* buckets per power of two */
#define PA_HIST_OCT 128             /* powers of two covered: 2^-62 .. 2^65 */

enum pa_stats_mode {
    PA_STATS_HYBRID,   /* exact up to PA_STATS_EXACT_MAX values, then histogram */
    PA_STATS_EXACT,    /* every value kept: exact percentiles, O(n) memory */
    PA_STATS_HIST      /* histogram from the first value */
};

typedef struct {
    uint64_t *oct[PA_HIST_OCT];
} pa_hist_half;

typedef struct pa_stats {
    int mode;
    uint64_t n;
    double sum, min, max, mean, m2;
    double *v;              /* exact values (NULL once folded) */
    size_t nv, cap;
    int sorted, folded;
    int has_negative;
    pa_hist_half *pos, *neg;
    uint64_t zero;          /* |x| < 2^-62, including 0 */
} pa_stats;

typedef struct {
    double key;             /* a value, or a bucket's midpoint */
    uint64_t count;
} pa_keycount;

void pa_stats_init(pa_stats *s, int mode);
void pa_stats_free(pa_stats *s);
/* -1 when out of memory (the value is then not counted). */
int pa_stats_add(pa_stats *s, double x);
int pa_stats_merge(pa_stats *dst, const pa_stats *src);
int pa_stats_is_exact(const pa_stats *s);
double pa_stats_stddev(const pa_stats *s);
/* Nearest-rank percentile, p in [0, 100]; NaN when empty.  Sorts exact values. */
double pa_stats_percentile(pa_stats *s, double p);

/* Sorted (key, count) pairs; keys are bucket midpoints when bucketed.
 * Returns the number of pairs (*out malloc'd), or -1 when out of memory. */
long pa_stats_keys(pa_stats *s, int bucketed, pa_keycount **out);

/* Bucket bounds of the histogram bucket holding x (for display). */
void pa_hist_bounds(double x, double *lo, double *hi);

typedef struct {
    double u;       /* U statistic of a */
    double z;       /* normal approximation, tie-corrected */
    double p;       /* two-sided p-value */
    double ps;      /* P(a > b) + P(a = b)/2: probability of superiority */
} pa_mwu;

/* Mann-Whitney U test of a vs b; -1 when either is empty or out of memory. */
int pa_stats_mwu(pa_stats *a, pa_stats *b, pa_mwu *r);

#endif
