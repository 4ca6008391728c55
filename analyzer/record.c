/* Record slots and typed accessors: see record.h. */
#include "record.h"

#include <math.h>
#include <string.h>

int pa_slot_of(const char *k, size_t n)
{
#define IS(lit) (n == sizeof(lit) - 1 && memcmp(k, lit, n) == 0)
    switch (n) {
    case 3: return IS("seq") ? PS_SEQ : -1;
    case 4:
        if (IS("type")) return PS_TYPE;
        if (IS("kind")) return PS_KIND;
        if (IS("cost")) return PS_COST;
        return -1;
    case 5: return IS("ts_ns") ? PS_TS_NS : -1;
    case 7:
        if (IS("cost_ns")) return PS_COST_NS;
        if (IS("success")) return PS_SUCCESS;
        return -1;
    case 8:
        if (IS("location")) return PS_LOCATION;
        if (IS("throwExp")) return PS_THROW;
        if (IS("probe_id")) return PS_PROBE;
        return -1;
    case 9:
        if (IS("func_name")) return PS_FUNC;
        if (IS("timestamp")) return PS_TIMESTAMP;
        if (IS("thread_id")) return PS_THREAD_ID;
        return -1;
    case 11: return IS("thread_name") ? PS_THREAD_NAME : -1;
    case 17: return IS("total_duration_ms") ? PS_TOTAL_MS : -1;
    default: return -1;
    }
#undef IS
}

void pa_recview_init(pa_recview *v, const char *line, size_t len, const pa_field *f, int nf)
{
    v->line = line;
    v->len = len;
    v->f = f;
    v->nf = nf;
    for (int i = 0; i < PS_COUNT; i++)
        v->slot[i] = -1;
    for (int i = 0; i < nf; i++) {
        if (f[i].flags & PA_JF_KESC)
            continue;
        int s = pa_slot_of(line + f[i].koff, f[i].klen);
        if (s >= 0)
            v->slot[s] = (int16_t)i;
    }
}

int pa_rec_int(const pa_recview *v, int slot, int64_t *out)
{
    int i = v->slot[slot];
    if (i < 0 || v->f[i].type != PA_J_NUM || !(v->f[i].flags & PA_JF_INT))
        return 0;
    return pa_json_int(v->line + v->f[i].voff, v->f[i].vlen, out);
}

int pa_rec_num(const pa_recview *v, int slot, double *out)
{
    int i = v->slot[slot];
    if (i < 0 || v->f[i].type != PA_J_NUM)
        return 0;
    int64_t n;
    if ((v->f[i].flags & PA_JF_INT) && pa_json_int(v->line + v->f[i].voff, v->f[i].vlen, &n))
        *out = (double)n;
    else
        *out = pa_json_double(v->line + v->f[i].voff, v->f[i].vlen);
    return 1;
}

int pa_rec_str(const pa_recview *v, int slot, char *buf, size_t bufsize, const char **s, size_t *len)
{
    int i = v->slot[slot];
    if (i < 0 || v->f[i].type != PA_J_STR)
        return 0;
    const pa_field *fl = &v->f[i];
    if (!(fl->flags & PA_JF_VESC)) {
        *s = v->line + fl->voff;
        *len = fl->vlen;
        return 1;
    }
    if (fl->vlen > bufsize)
        return 0;
    long n = pa_json_unescape(v->line + fl->voff, fl->vlen, buf);
    if (n < 0)
        return 0;
    *s = buf;
    *len = (size_t)n;
    return 1;
}

int pa_rec_cost_ns(const pa_recview *v, int64_t *out)
{
    double ms;
    if (pa_rec_int(v, PS_COST_NS, out))
        return 1;
    if ((pa_rec_num(v, PS_COST, &ms) || pa_rec_num(v, PS_TOTAL_MS, &ms)) && fabs(ms) < 9e12) {
        *out = (int64_t)llround(ms * 1e6);
        return 1;
    }
    return 0;
}

int pa_rec_ts_ns(const pa_recview *v, int64_t *out)
{
    double s;
    if (pa_rec_int(v, PS_TS_NS, out))
        return 1;
    if (pa_rec_num(v, PS_TIMESTAMP, &s) && fabs(s) < 9e9) {
        *out = (int64_t)llround(s * 1e9);
        return 1;
    }
    return 0;
}
