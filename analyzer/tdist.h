/* Student's t distribution and Welch's unequal-variance t test: what
 * `compare` needs to judge a handful of per-run statistics per side, where
 * the normal approximation of the U test does not hold. */
#ifndef PA_TDIST_H
#define PA_TDIST_H

#include "stats.h"

/* P(T <= t) for T ~ Student's t with df > 0 degrees of freedom (df may be
 * fractional, as Welch's is); NaN for df <= 0 or NaN t. */
double pa_t_cdf(double t, double df);

/* The t with P(T <= t) = p, for 0 < p < 1 and df > 0; NaN otherwise. */
double pa_t_quantile(double p, double df);

typedef struct {
    double diff;    /* mean(a) - mean(b) */
    double se;      /* its standard error */
    double t;       /* diff / se */
    double df;      /* Welch-Satterthwaite degrees of freedom */
    double p;       /* two-sided p-value */
} pa_welch;

/* Welch's t test of a vs b; -1 unless both have at least 2 values.  Two
 * samples without any spread give se 0: p is then 0 when the means differ
 * and 1 when they do not (t and df are reported as infinite / 0). */
int pa_welch_test(const pa_stats *a, const pa_stats *b, pa_welch *r);

#endif
