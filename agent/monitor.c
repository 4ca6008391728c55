/* The monitor probe (Peeka's `monitor`): per function, each interval,
 * total/success/fail/fail_rate/rt_avg/rt_min/rt_max and, beyond Peeka,
 * p50/p95/p99 from a fixed log-linear histogram.  Nothing is formatted per
 * call: a finished call adds to a small C struct, and the agent thread turns
 * the structs into records once per interval without the GIL.
 *
 * Concurrency: entries are added only by GIL holders (hooks, install) and
 * published with a release store of the count; the agent thread reads up to
 * that count.  The statistics of one entry are guarded by a spin flag held
 * for a few instructions by a hook, or for one copy by the agent thread. */
#include "monitor.h"
#include "observe.h"
#include "hooks_table.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Histogram of call durations in ns: values below 32 have their own bucket,
 * above that 16 buckets per power of two (at most 1/16 = 6.25% wide, so a
 * percentile read at a bucket's middle is within ~3%).  Durations beyond
 * 2^40 ns (18 minutes) share the last bucket. */
#define SUB_BITS 4
#define SUB (1 << SUB_BITS)
#define MAX_SHIFT 36
#define NBUCKETS ((MAX_SHIFT + 2) * SUB)

#define MAX_FUNCS 1024          /* functions per monitor probe */
#define INDEX_SIZE 2048         /* power of two, at most half full */

typedef struct {
    int64_t total, fail, sum_ns, min_ns, max_ns;
    uint32_t hist[NBUCKETS];
} mon_stats;

typedef struct {
    const hooked *key;          /* identity only, never dereferenced */
    char *name_json;
    size_t name_len;
    atomic_flag busy;
    mon_stats s;
} mon_entry;

typedef struct monitor_state {
    mon_entry *entries[MAX_FUNCS];
    atomic_int n;               /* published entries */
    int16_t index[INDEX_SIZE];  /* entry number + 1, by key; GIL holders only */
    int64_t start, next_tick;   /* agent thread */
    int64_t cycle;
} monitor_state;

static int bucket_of(int64_t ns)
{
    uint64_t v = ns < 0 ? 0 : (uint64_t)ns;
    if (v < 2 * SUB)
        return (int)v;
    int shift = 63 - __builtin_clzll(v) - SUB_BITS;
    if (shift > MAX_SHIFT)
        return NBUCKETS - 1;
    return shift * SUB + (int)(v >> shift);
}

/* The middle of bucket b, in ns. */
static int64_t bucket_mid(int b)
{
    if (b < 2 * SUB)
        return b;
    int shift = b / SUB - 1;
    uint64_t low = (uint64_t)(b % SUB + SUB) << shift;
    return (int64_t)(low + ((uint64_t)1 << shift) / 2);
}

int monitor_state_new(probe *p)
{
    if (!(p->mon = calloc(1, sizeof *p->mon)))
        return -1;
    p->mon->start = now_mono_ns();
    p->mon->next_tick = p->mon->start + p->interval_ns;
    return 0;
}

void monitor_state_free(probe *p)
{
    monitor_state *m = p->mon;
    if (!m)
        return;
    for (int i = 0; i < atomic_load(&m->n); i++) {
        free(m->entries[i]->name_json);
        free(m->entries[i]);
    }
    free(m);
    p->mon = NULL;
}

static size_t slot_of(const void *k)
{
    uintptr_t x = (uintptr_t)k;
    x ^= x >> 17;
    x *= 0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 40) & (INDEX_SIZE - 1);
}

static void stats_reset(mon_stats *s)
{
    memset(s, 0, sizeof *s);
    s->min_ns = INT64_MAX;
}

/* The entry of function h, added on first sight; NULL when full. */
static mon_entry *entry_for(monitor_state *m, const hooked *h)
{
    size_t i = slot_of(h);
    for (; m->index[i]; i = (i + 1) & (INDEX_SIZE - 1))
        if (m->entries[m->index[i] - 1]->key == h)
            return m->entries[m->index[i] - 1];
    int n = atomic_load_explicit(&m->n, memory_order_relaxed);
    if (n == MAX_FUNCS)
        return NULL;
    mon_entry *e = calloc(1, sizeof *e);
    if (!e || !(e->name_json = malloc(h->name_json_len))) {
        free(e);
        return NULL;
    }
    memcpy(e->name_json, h->name_json, h->name_json_len);
    e->name_len = h->name_json_len;
    e->key = h;
    atomic_flag_clear(&e->busy);
    stats_reset(&e->s);
    m->entries[n] = e;
    m->index[i] = (int16_t)(n + 1);
    atomic_store_explicit(&m->n, n + 1, memory_order_release);
    return e;
}

void monitor_register_installed(probe *p)
{
    static hooked *list[4096];   /* install runs on the agent thread only */
    int n = hooks_table_collect(list, 4096);
    for (int i = 0; i < n && p->mon; i++)
        for (int j = 0; j < list[i]->nprobes; j++)
            if (list[i]->probes[j] == p)
                entry_for(p->mon, list[i]);
}

static void entry_lock(mon_entry *e)
{
    while (atomic_flag_test_and_set_explicit(&e->busy, memory_order_acquire))
        sched_yield();
}

static void entry_unlock(mon_entry *e)
{
    atomic_flag_clear_explicit(&e->busy, memory_order_release);
}

void monitor_account(hooked *h, int64_t cost_ns, int ok)
{
    int b = bucket_of(cost_ns);
    for (int i = 0; i < h->nprobes; i++) {
        probe *p = h->probes[i];
        if (p->kind != PK_MONITOR || p->done || !p->mon)
            continue;
        mon_entry *e = entry_for(p->mon, h);
        if (!e)
            continue;
        entry_lock(e);
        mon_stats *s = &e->s;
        s->total++;
        s->fail += !ok;
        s->sum_ns += cost_ns;
        if (cost_ns < s->min_ns) s->min_ns = cost_ns;
        if (cost_ns > s->max_ns) s->max_ns = cost_ns;
        s->hist[b]++;
        entry_unlock(e);
    }
}

/* The duration at quantile q, read from the histogram, kept within the
 * observed min and max. */
static int64_t percentile(const mon_stats *s, double q)
{
    int64_t rank = (int64_t)(q * (double)s->total + 0.999999);
    if (rank < 1) rank = 1;
    int64_t seen = 0;
    for (int b = 0; b < NBUCKETS; b++) {
        seen += s->hist[b];
        if (seen >= rank) {
            int64_t v = bucket_mid(b);
            return v < s->min_ns ? s->min_ns : v > s->max_ns ? s->max_ns : v;
        }
    }
    return s->max_ns;
}

/* fail/total with 4 decimals, in integers: no locale can change the point. */
static void write_rate(jsonw *w, int64_t fail, int64_t total)
{
    int64_t r = total ? (fail * 10000 + total / 2) / total : 0;
    char frac[5] = {'.', (char)('0' + r / 1000 % 10), (char)('0' + r / 100 % 10),
                    (char)('0' + r / 10 % 10), (char)('0' + r % 10)};
    jsonw_i64(w, r / 10000);
    jsonw_raw(w, frac, 5);
}

static void write_record(jsonw *w, probe *p, const mon_entry *e, const mon_stats *s,
                         int64_t start, int64_t end, int partial)
{
    monitor_state *m = p->mon;
    int64_t wall = wall_of_mono(start);
    /* `cycle` right after probe_id: peeka-rec counts cycles from the prefix */
    write_head(w, "monitor", p, m->cycle, wall, e->name_json, e->name_len);
    jsonw_lit(w, ",\"interval_s\":");
    write_ms(w, (partial ? end - start : p->interval_ns) / 1000);   /* seconds, 3 decimals */
    if (partial)
        jsonw_lit(w, ",\"partial\":true");
    jsonw_lit(w, ",\"total\":");
    jsonw_i64(w, s->total);
    jsonw_lit(w, ",\"success\":");
    jsonw_i64(w, s->total - s->fail);
    jsonw_lit(w, ",\"fail\":");
    jsonw_i64(w, s->fail);
    jsonw_lit(w, ",\"fail_rate\":");
    write_rate(w, s->fail, s->total);
    int any = s->total > 0;
    jsonw_lit(w, ",\"rt_avg\":");
    write_ms(w, any ? s->sum_ns / s->total : 0);
    jsonw_lit(w, ",\"rt_min\":");
    write_ms(w, any ? s->min_ns : 0);
    jsonw_lit(w, ",\"rt_max\":");
    write_ms(w, any ? s->max_ns : 0);
    jsonw_lit(w, ",\"p50\":");
    write_ms(w, any ? percentile(s, 0.50) : 0);
    jsonw_lit(w, ",\"p95\":");
    write_ms(w, any ? percentile(s, 0.95) : 0);
    jsonw_lit(w, ",\"p99\":");
    write_ms(w, any ? percentile(s, 0.99) : 0);
    jsonw_lit(w, "}\n");
}

/* One interval of probe p, every function, as one RECORDS frame. */
static int emit_cycle(probe *p, int64_t end, int partial, jsonw *w, monitor_send_fn send)
{
    static mon_stats snap;   /* agent thread only */
    monitor_state *m = p->mon;
    int n = atomic_load_explicit(&m->n, memory_order_acquire);
    if (n == 0) {   /* nothing hooked yet (a pending import): not a cycle of -c, no gap in `cycle` */
        m->start = end;
        return 0;
    }
    m->cycle++;
    jsonw_reset(w);
    for (int i = 0; i < n; i++) {
        mon_entry *e = m->entries[i];
        entry_lock(e);
        snap = e->s;
        stats_reset(&e->s);
        entry_unlock(e);
        size_t mark = w->len;
        write_record(w, p, e, &snap, m->start, end, partial);
        if (w->overflow) {   /* cannot happen at these sizes; never send half a line */
            w->len = mark;
            w->overflow = 0;
            p->drops++;
            p->seq--;
            continue;
        }
        p->observations++;
    }
    m->start = end;
    if (p->times > 0 && m->cycle >= p->times)
        p->done = 1;
    return w->len ? send(w->buf, w->len) : 0;
}

int monitor_tick(int64_t now_mono, int final, monitor_send_fn send)
{
    static jsonw w;   /* agent thread only */
    if (!w.buf && jsonw_init(&w, 65536, (size_t)MAX_FUNCS * 1024) < 0)
        return 0;
    for (int i = 0; i < g_agent.nprobes; i++) {
        probe *p = g_agent.probes[i];
        monitor_state *m = p->mon;
        if (p->kind != PK_MONITOR || !m || p->done)
            continue;
        if (now_mono >= m->next_tick) {
            if (emit_cycle(p, now_mono, 0, &w, send) < 0)
                return -1;
            /* a late agent thread skips the intervals it missed */
            m->next_tick += p->interval_ns;
            if (m->next_tick <= now_mono)
                m->next_tick = now_mono + p->interval_ns;
        } else if (final && now_mono > m->start) {
            if (emit_cycle(p, now_mono, 1, &w, send) < 0)
                return -1;
        }
    }
    return 0;
}
