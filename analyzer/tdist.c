/* Student's t distribution through the regularized incomplete beta
 * function (a continued fraction evaluated with the modified Lentz
 * method), and Welch's t test on two streaming statistics. */
#include "tdist.h"

#include <float.h>
#include <math.h>

#define CF_MAX_ITER 300
#define CF_EPS 1e-15
#define CF_TINY 1e-300

/* Continued fraction of I_x(a, b); converges fast for x < (a+1)/(a+b+2). */
static double beta_cf(double a, double b, double x)
{
    double c = 1, d = 1 - (a + b) * x / (a + 1);
    if (fabs(d) < CF_TINY)
        d = CF_TINY;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= CF_MAX_ITER; m++) {
        double m2 = 2.0 * m;
        double num = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
        for (int step = 0; step < 2; step++) {
            d = 1 + num * d;
            c = 1 + num / c;
            if (fabs(d) < CF_TINY)
                d = CF_TINY;
            if (fabs(c) < CF_TINY)
                c = CF_TINY;
            d = 1 / d;
            double delta = d * c;
            h *= delta;
            if (step == 1 && fabs(delta - 1) < CF_EPS)
                return h;
            num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
        }
    }
    return h;
}

/* I_x(a, b), the regularized incomplete beta function, 0 <= x <= 1. */
static double inc_beta(double a, double b, double x)
{
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    double ln_front = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    if (x < (a + 1) / (a + b + 2))
        return exp(ln_front) * beta_cf(a, b, x) / a;
    return 1 - exp(ln_front) * beta_cf(b, a, 1 - x) / b;
}

double pa_t_cdf(double t, double df)
{
    if (!(df > 0) || isnan(t))
        return NAN;
    if (isinf(t))
        return t > 0 ? 1 : 0;
    /* P(|T| > |t|) = I_{df/(df+t^2)}(df/2, 1/2) */
    double tail = 0.5 * inc_beta(df / 2, 0.5, df / (df + t * t));
    return t > 0 ? 1 - tail : tail;
}

double pa_t_quantile(double p, double df)
{
    if (!(p > 0 && p < 1) || !(df > 0))
        return NAN;
    if (p == 0.5)
        return 0;
    /* Bisection on the monotone CDF: bracket, then halve to the last bit. */
    double lo = -1, hi = 1;
    while (pa_t_cdf(lo, df) > p)
        lo *= 2;
    while (pa_t_cdf(hi, df) < p)
        hi *= 2;
    for (int i = 0; i < 200 && hi - lo > 4 * DBL_EPSILON * fmax(1, fabs(lo)); i++) {
        double mid = (lo + hi) / 2;
        if (pa_t_cdf(mid, df) < p)
            lo = mid;
        else
            hi = mid;
    }
    return (lo + hi) / 2;
}

int pa_welch_test(const pa_stats *a, const pa_stats *b, pa_welch *r)
{
    if (a->n < 2 || b->n < 2)
        return -1;
    double va = a->m2 / (double)(a->n - 1) / (double)a->n;
    double vb = b->m2 / (double)(b->n - 1) / (double)b->n;
    r->diff = a->mean - b->mean;
    r->se = sqrt(va + vb);
    if (r->se == 0) {
        r->t = r->diff == 0 ? 0 : copysign(INFINITY, r->diff);
        r->df = 0;
        r->p = r->diff == 0 ? 1 : 0;
        return 0;
    }
    r->t = r->diff / r->se;
    r->df = (va + vb) * (va + vb) /
            (va * va / (double)(a->n - 1) + vb * vb / (double)(b->n - 1));
    r->p = 2 * pa_t_cdf(-fabs(r->t), r->df);
    return 0;
}
