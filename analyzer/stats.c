/* Streaming statistics and the Mann-Whitney U test: see stats.h. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void pa_stats_init(pa_stats *s, int mode)
{
    memset(s, 0, sizeof *s);
    s->mode = mode;
    s->min = INFINITY;
    s->max = -INFINITY;
    s->folded = mode == PA_STATS_HIST;
}

static void half_free(pa_hist_half *h)
{
    if (!h)
        return;
    for (int i = 0; i < PA_HIST_OCT; i++)
        free(h->oct[i]);
    free(h);
}

void pa_stats_free(pa_stats *s)
{
    free(s->v);
    half_free(s->pos);
    half_free(s->neg);
    s->v = NULL;
    s->pos = s->neg = NULL;
}

/* Bucket of |x|: octave and sub-bucket; 0 for the zero bucket. */
static int bucket_of(double ax, int *oct, int *sub)
{
    int e;
    double m = frexp(ax, &e);           /* ax = m * 2^e, m in [0.5, 1) */
    if (ax == 0 || e < -62)
        return 0;
    if (e > 65 || isinf(ax)) {
        e = 65;
        m = 0.9999999;
    }
    *oct = e + 62;
    *sub = (int)((m - 0.5) * 2 * PA_HIST_SUB);
    if (*sub >= PA_HIST_SUB)
        *sub = PA_HIST_SUB - 1;
    return 1;
}

static double bucket_mid(int oct, int sub)
{
    double lo = ldexp(0.5 + (double)sub / (2 * PA_HIST_SUB), oct - 62);
    double hi = ldexp(0.5 + (double)(sub + 1) / (2 * PA_HIST_SUB), oct - 62);
    return (lo + hi) / 2;
}

void pa_hist_bounds(double x, double *lo, double *hi)
{
    int oct, sub;
    double sign = x < 0 ? -1 : 1;
    if (!bucket_of(fabs(x), &oct, &sub)) {
        *lo = *hi = 0;
        return;
    }
    *lo = sign * ldexp(0.5 + (double)sub / (2 * PA_HIST_SUB), oct - 62);
    *hi = sign * ldexp(0.5 + (double)(sub + 1) / (2 * PA_HIST_SUB), oct - 62);
}

static int hist_add(pa_stats *s, double x, uint64_t count)
{
    int oct, sub;
    if (!bucket_of(fabs(x), &oct, &sub)) {
        s->zero += count;
        return 0;
    }
    pa_hist_half **hp = x < 0 ? &s->neg : &s->pos;
    if (!*hp && !(*hp = calloc(1, sizeof **hp)))
        return -1;
    uint64_t **o = &(*hp)->oct[oct];
    if (!*o && !(*o = calloc(PA_HIST_SUB, sizeof **o)))
        return -1;
    (*o)[sub] += count;
    return 0;
}

/* Moves the exact values into buckets: memory stops growing here. */
static int fold(pa_stats *s)
{
    for (size_t i = 0; i < s->nv; i++)
        if (hist_add(s, s->v[i], 1) < 0)
            return -1;
    free(s->v);
    s->v = NULL;
    s->nv = s->cap = 0;
    s->folded = 1;
    return 0;
}

static int exact_push(pa_stats *s, double x)
{
    if (s->nv == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        double *nv = realloc(s->v, cap * sizeof *nv);
        if (!nv)
            return -1;
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->nv++] = x;
    s->sorted = 0;
    return 0;
}

int pa_stats_add(pa_stats *s, double x)
{
    if (isnan(x))
        return 0;
    if (s->folded) {
        if (hist_add(s, x, 1) < 0)
            return -1;
    } else {
        if (s->mode == PA_STATS_HYBRID && s->nv >= PA_STATS_EXACT_MAX && !s->has_negative &&
            x >= 0 && fold(s) == 0) {
            if (hist_add(s, x, 1) < 0)
                return -1;
        } else if (exact_push(s, x) < 0) {
            return -1;
        }
    }
    if (x < 0)
        s->has_negative = 1;
    s->n++;
    s->sum += x;
    double d = x - s->mean;
    s->mean += d / (double)s->n;
    s->m2 += d * (x - s->mean);
    if (x < s->min)
        s->min = x;
    if (x > s->max)
        s->max = x;
    return 0;
}

int pa_stats_is_exact(const pa_stats *s)
{
    return !s->folded;
}

double pa_stats_stddev(const pa_stats *s)
{
    return s->n > 1 ? sqrt(s->m2 / (double)(s->n - 1)) : 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void ensure_sorted(pa_stats *s)
{
    if (!s->sorted && s->v) {
        qsort(s->v, s->nv, sizeof *s->v, cmp_double);
        s->sorted = 1;
    }
}

/* Walks buckets in value order, calling f(key, count) for non-empty ones;
 * stops when f returns non-zero. */
typedef int (*bucket_fn)(double key, uint64_t count, void *ud);

static int walk_half(const pa_hist_half *h, int negative, bucket_fn f, void *ud)
{
    if (!h)
        return 0;
    for (int k = 0; k < PA_HIST_OCT; k++) {
        int oct = negative ? PA_HIST_OCT - 1 - k : k;
        if (!h->oct[oct])
            continue;
        for (int j = 0; j < PA_HIST_SUB; j++) {
            int sub = negative ? PA_HIST_SUB - 1 - j : j;
            uint64_t c = h->oct[oct][sub];
            if (c && f(negative ? -bucket_mid(oct, sub) : bucket_mid(oct, sub), c, ud))
                return 1;
        }
    }
    return 0;
}

static void walk_buckets(const pa_stats *s, bucket_fn f, void *ud)
{
    if (walk_half(s->neg, 1, f, ud))
        return;
    if (s->zero && f(0, s->zero, ud))
        return;
    walk_half(s->pos, 0, f, ud);
}

struct rank_walk {
    uint64_t rank, seen;
    double found;
};

static int rank_step(double key, uint64_t count, void *ud)
{
    struct rank_walk *w = ud;
    w->seen += count;
    if (w->seen >= w->rank) {
        w->found = key;
        return 1;
    }
    return 0;
}

double pa_stats_percentile(pa_stats *s, double p)
{
    if (s->n == 0)
        return NAN;
    if (p <= 0)
        return s->min;
    if (p >= 100)
        return s->max;
    uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)s->n);
    if (rank < 1)
        rank = 1;
    if (!s->folded) {
        ensure_sorted(s);
        return s->v[rank - 1];
    }
    if (rank == s->n)
        return s->max;
    struct rank_walk w = {rank, 0, s->max};
    walk_buckets(s, rank_step, &w);
    return w.found < s->min ? s->min : w.found > s->max ? s->max : w.found;
}

int pa_stats_merge(pa_stats *dst, const pa_stats *src)
{
    if (src->n == 0)
        return 0;
    if (!src->folded) {
        for (size_t i = 0; i < src->nv; i++) {
            /* add() updates n/sum/mean; undo below is not needed: recompute. */
            if (pa_stats_add(dst, src->v[i]) < 0)
                return -1;
        }
        return 0;
    }
    /* A folded source: fold dst too, then add bucket counts. */
    if (!dst->folded && fold(dst) < 0)
        return -1;
    for (int half = 0; half < 2; half++) {
        const pa_hist_half *h = half ? src->neg : src->pos;
        if (!h)
            continue;
        for (int o = 0; o < PA_HIST_OCT; o++)
            for (int j = 0; h->oct[o] && j < PA_HIST_SUB; j++)
                if (h->oct[o][j] && hist_add(dst, half ? -bucket_mid(o, j) : bucket_mid(o, j),
                                             h->oct[o][j]) < 0)
                    return -1;
    }
    dst->zero += src->zero;
    /* Chan et al. parallel combination of mean and M2. */
    double n1 = (double)dst->n, n2 = (double)src->n, d = src->mean - dst->mean;
    dst->m2 += src->m2 + d * d * n1 * n2 / (n1 + n2);
    dst->mean += d * n2 / (n1 + n2);
    dst->n += src->n;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    if (src->has_negative)
        dst->has_negative = 1;
    return 0;
}

struct key_collect {
    pa_keycount *out;
    long n;
};

static int key_step(double key, uint64_t count, void *ud)
{
    struct key_collect *k = ud;
    k->out[k->n].key = key;
    k->out[k->n].count = count;
    k->n++;
    return 0;
}

long pa_stats_keys(pa_stats *s, int bucketed, pa_keycount **out)
{
    *out = NULL;
    if (!s->folded && !bucketed) {
        ensure_sorted(s);
        pa_keycount *kc = malloc((s->nv ? s->nv : 1) * sizeof *kc);
        if (!kc)
            return -1;
        long n = 0;
        for (size_t i = 0; i < s->nv; i++) {
            if (n > 0 && kc[n - 1].key == s->v[i]) {
                kc[n - 1].count++;
            } else {
                kc[n].key = s->v[i];
                kc[n].count = 1;
                n++;
            }
        }
        *out = kc;
        return n;
    }
    pa_stats tmp;
    const pa_stats *src = s;
    if (!s->folded) {       /* bucket a copy of the exact values */
        pa_stats_init(&tmp, PA_STATS_HIST);
        for (size_t i = 0; i < s->nv; i++)
            if (hist_add(&tmp, s->v[i], 1) < 0) {
                pa_stats_free(&tmp);
                return -1;
            }
        tmp.n = s->n;
        src = &tmp;
    }
    size_t cap = 1 + (src->pos ? (size_t)PA_HIST_OCT * PA_HIST_SUB : 0) +
                 (src->neg ? (size_t)PA_HIST_OCT * PA_HIST_SUB : 0);
    struct key_collect k = {malloc(cap * sizeof *k.out), 0};
    if (k.out)
        walk_buckets(src, key_step, &k);
    if (src == &tmp)
        pa_stats_free(&tmp);
    if (!k.out)
        return -1;
    *out = k.out;
    return k.n;
}

int pa_stats_mwu(pa_stats *a, pa_stats *b, pa_mwu *r)
{
    if (a->n == 0 || b->n == 0)
        return -1;
    int bucketed = a->folded || b->folded;
    pa_keycount *ka, *kb;
    long na = pa_stats_keys(a, bucketed, &ka);
    long nb = pa_stats_keys(b, bucketed, &kb);
    if (na < 0 || nb < 0) {
        free(ka);
        free(kb);
        return -1;
    }
    /* Rank both samples together; tied values share their mean rank. */
    double rank_sum_a = 0, ties = 0, below = 0, n_a = 0, n_b = 0;
    long i = 0, j = 0;
    while (i < na || j < nb) {
        double key = i < na && (j >= nb || ka[i].key <= kb[j].key) ? ka[i].key : kb[j].key;
        double ca = 0, cb = 0;
        if (i < na && ka[i].key == key)
            ca = (double)ka[i++].count;
        if (j < nb && kb[j].key == key)
            cb = (double)kb[j++].count;
        double t = ca + cb;
        rank_sum_a += ca * (below + (t + 1) / 2);
        ties += t * t * t - t;
        below += t;
        n_a += ca;
        n_b += cb;
    }
    free(ka);
    free(kb);
    double n = n_a + n_b;
    r->u = rank_sum_a - n_a * (n_a + 1) / 2;
    r->ps = r->u / (n_a * n_b);
    double mean = n_a * n_b / 2;
    double var = n_a * n_b / 12 * ((n + 1) - ties / (n * (n - 1)));
    if (var <= 0) {
        r->z = 0;
        r->p = 1;
        return 0;
    }
    double diff = r->u - mean;
    double cc = diff > 0 ? -0.5 : diff < 0 ? 0.5 : 0;   /* continuity correction */
    r->z = (diff + cc) / sqrt(var);
    r->p = erfc(fabs(r->z) / sqrt(2.0));
    return 0;
}
