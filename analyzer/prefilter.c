/* Record prefilters: see prefilter.h. */
#include "prefilter.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

void pa_filter_init(pa_filter *f)
{
    memset(f, 0, sizeof *f);
}

static void strset_free(pa_strset *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->v[i]);
    s->n = 0;
}

void pa_filter_free(pa_filter *f)
{
    strset_free(&f->kind);
    strset_free(&f->func);
    strset_free(&f->thread);
    strset_free(&f->location);
}

int pa_strset_add(pa_strset *s, const char *v)
{
    if (s->n >= PA_FILTER_MAXV)
        return -1;
    char *c = strdup(v);
    if (!c)
        return -1;
    s->v[s->n++] = c;
    return 0;
}

void pa_filter_set_start(pa_filter *f, int64_t start_ns, int has_start)
{
    if (f->has_from) {
        f->has_since = has_start;
        f->since_ns = start_ns + (int64_t)(f->from_s * 1e9);
    }
    if (f->has_to) {
        f->has_until = has_start;
        f->until_ns = start_ns + (int64_t)(f->to_s * 1e9);
    }
}

int pa_glob(const char *pat, const char *s, size_t n)
{
    if (!strpbrk(pat, "*?["))
        return strlen(pat) == n && memcmp(pat, s, n) == 0;
    char buf[512];
    char *str = n < sizeof buf ? buf : malloc(n + 1);
    if (!str)
        return 0;
    memcpy(str, s, n);
    str[n] = '\0';
    int ok = fnmatch(pat, str, 0) == 0;
    if (str != buf)
        free(str);
    return ok;
}

static int str_in(const pa_strset *set, const pa_recview *v, int slot, int glob)
{
    char buf[512];
    const char *s;
    size_t n;
    if (!pa_rec_str(v, slot, buf, sizeof buf, &s, &n))
        return 0;
    for (int i = 0; i < set->n; i++) {
        if (glob ? pa_glob(set->v[i], s, n) : strlen(set->v[i]) == n && memcmp(set->v[i], s, n) == 0)
            return 1;
    }
    return 0;
}

static int is_error(const pa_recview *v)
{
    int i = v->slot[PS_SUCCESS];
    if (i >= 0 && v->f[i].type == PA_J_FALSE)
        return 1;
    i = v->slot[PS_THROW];
    return i >= 0 && v->f[i].type == PA_J_STR;
}

int pa_filter_match(const pa_filter *f, const pa_recview *v)
{
    if (f->kind.n && !str_in(&f->kind, v, PS_KIND, 0))
        return 0;
    if (f->func.n && !str_in(&f->func, v, PS_FUNC, 1))
        return 0;
    if (f->location.n && !str_in(&f->location, v, PS_LOCATION, 0))
        return 0;
    if (f->thread.n && !str_in(&f->thread, v, PS_THREAD_NAME, 1))
        return 0;
    if (f->has_thread_id) {
        int64_t t;
        if (!pa_rec_int(v, PS_THREAD_ID, &t) || t != f->thread_id)
            return 0;
    }
    if (f->has_probe) {
        int64_t p;
        if (!pa_rec_int(v, PS_PROBE, &p) || p != f->probe_id)
            return 0;
    }
    if (f->has_min_cost || f->has_max_cost) {
        int64_t c;
        if (!pa_rec_cost_ns(v, &c))
            return 0;
        if ((f->has_min_cost && c < f->min_cost_ns) || (f->has_max_cost && c > f->max_cost_ns))
            return 0;
    }
    if (f->has_since || f->has_until) {
        int64_t t;
        if (!pa_rec_ts_ns(v, &t))
            return 0;
        if ((f->has_since && t < f->since_ns) || (f->has_until && t > f->until_ns))
            return 0;
    }
    if (f->has_errors && is_error(v) != f->errors)
        return 0;
    return 1;
}
