/* The watch probe: one record per observed call at entry, return or raise,
 * with Peeka's field names.  This is the hottest code peeka has: it runs
 * inside the target's calls, so it does the cheap checks first and formats
 * nothing that no probe asked for. */
#include "watch.h"
#include "cond.h"

#include <string.h>

/* "1763911800.123456": seconds with microseconds, exact from ts_ns. */
void write_seconds(jsonw *w, int64_t ns)
{
    char frac[8];
    int64_t us = ns / 1000;
    jsonw_i64(w, us / 1000000);
    int64_t f = us % 1000000;
    for (int i = 6; i > 0; i--, f /= 10)
        frac[i] = (char)('0' + f % 10);
    frac[0] = '.';
    jsonw_raw(w, frac, 7);
}

void write_ms(jsonw *w, int64_t ns)
{
    int64_t us = (ns + 500) / 1000;
    char frac[4] = {'.', (char)('0' + us / 100 % 10), (char)('0' + us / 10 % 10), (char)('0' + us % 10)};
    jsonw_i64(w, us / 1000);
    jsonw_raw(w, frac, 4);
}

void write_args(jsonw *w, const call *c, int depth)
{
    Py_ssize_t first = c->h->has_self && c->nargs > 0 ? 1 : 0;
    jsonw_lit(w, ",\"params\":[");
    for (Py_ssize_t i = first; i < c->nargs; i++) {
        if (i > first) jsonw_char(w, ',');
        fmt_value(w, c->args[i], 1, depth);
    }
    jsonw_lit(w, "],\"kwargs\":{");
    Py_ssize_t nk = c->kwnames ? PyTuple_GET_SIZE(c->kwnames) : 0;
    for (Py_ssize_t i = 0; i < nk; i++) {
        if (i) jsonw_char(w, ',');
        fmt_value(w, PyTuple_GET_ITEM(c->kwnames, i), 1, depth);
        jsonw_char(w, ':');
        fmt_value(w, c->args[c->nargs + i], 1, depth);
    }
    jsonw_lit(w, "},\"target\":");
    if (first)
        fmt_value(w, c->args[0], 1, depth);
    else
        jsonw_lit(w, "null");
}

static const char *location_name(enum where at)
{
    return at == AT_ENTER ? "AtEnter" : at == AT_EXIT ? "AtExit" : "AtExceptionExit";
}

/* The fields every observation starts with (docs/format.md); probe_id comes
 * early because peeka-rec finds it by position. */
void write_record_head(jsonw *w, const char *kind, probe *p, const call *c)
{
    jsonw_lit(w, "{\"type\":\"observation\",\"kind\":\"");
    jsonw_raw(w, kind, strlen(kind));
    jsonw_lit(w, "\",\"probe_id\":");
    jsonw_i64(w, p->id);
    if (p->kind == PK_WATCH) {   /* Peeka's name for the same number */
        jsonw_lit(w, ",\"watch_id\":");
        jsonw_i64(w, p->id);
    }
    jsonw_lit(w, ",\"seq\":");
    jsonw_i64(w, ++p->seq);
    jsonw_lit(w, ",\"ts_ns\":");
    jsonw_i64(w, c->wall);
    jsonw_lit(w, ",\"timestamp\":");
    write_seconds(w, c->wall);
    jsonw_lit(w, ",\"func_name\":");
    jsonw_raw(w, c->h->name_json, c->h->name_json_len);
}

static void build_record(jsonw *w, probe *p, const call *c, enum where at)
{
    write_record_head(w, "watch", p, c);
    jsonw_lit(w, ",\"location\":\"");
    const char *loc = location_name(at);
    jsonw_raw(w, loc, strlen(loc));
    jsonw_char(w, '"');
    write_args(w, c, p->depth);
    jsonw_lit(w, ",\"returnObj\":");
    if (at == AT_EXIT)
        fmt_value(w, c->ret, 1, p->depth);
    else
        jsonw_lit(w, "null");
    jsonw_lit(w, ",\"success\":");
    if (at == AT_EXCEPTION) jsonw_lit(w, "false");
    else jsonw_lit(w, "true");
    jsonw_lit(w, ",\"throwExp\":");
    if (at == AT_EXCEPTION && c->exc)
        fmt_exception(w, c->exc);
    else
        jsonw_lit(w, "null");
    jsonw_lit(w, ",\"cost\":");
    write_ms(w, c->cost);
    jsonw_lit(w, ",\"cost_ns\":");
    jsonw_i64(w, c->cost);
    emit_thread_fields(w);
    jsonw_lit(w, "}\n");
}

static int wants(const probe *p, enum where at)
{
    if (p->done)
        return 0;
    return at == AT_ENTER ? p->at_enter : at == AT_EXIT ? p->at_success : p->at_exception;
}

int condition_holds(probe *p, const call *c)
{
    if (!p->cond)
        return 1;
    peeka_cond_env env = {
        .args = c->args, .nargs = c->nargs, .kwnames = c->kwnames,
        .code = PyFunction_GET_CODE(c->h->func), .has_self = c->h->has_self,
        .ret = c->ret, .exc = c->exc,
        .cost_ms = c->cost < 0 ? -1.0 : (double)c->cost / 1e6,
    };
    int r = peeka_cond_eval(p->cond, &env);
    if (r < 0)
        p->cond_errors++;
    return r == 1;
}

/* Formatting runs user __repr__/__str__: nested hooks on this thread pass
 * through, and nothing here may disturb the call's own exception. */
void watch_observe(const call *c, enum where at)
{
    hooked *h = c->h;
    g_agent.observing++;
    for (int i = 0; i < h->nprobes; i++) {
        probe *p = h->probes[i];
        if (!wants(p, at) || !condition_holds(p, c))
            continue;
        jsonw *w = thread_writer();
        if (!w)
            continue;
        build_record(w, p, c, at);
        if (w->overflow) {   /* retry small: a huge argument must not cost the record */
            int depth = p->depth;
            p->depth = 1;
            jsonw_reset(w);
            p->seq--;
            build_record(w, p, c, at);
            p->depth = depth;
        }
        emit_record(p, w);
    }
    g_agent.observing--;
}

/* Which events any probe on h still wants, as a bit per `enum where`:
 * computed once per call (watch_observe checks each probe again). */
static unsigned wanted(const hooked *h)
{
    unsigned m = 0;
    for (int i = 0; i < h->nprobes; i++)
        for (enum where at = AT_ENTER; at <= AT_EXCEPTION; at++)
            if (wants(h->probes[i], at))
                m |= 1u << at;
    return m;
}

PyObject *watch_call(hooked *h, PyObject *callable, PyObject *const *args,
                     size_t nargsf, PyObject *kwnames)
{
    if (h->other_kinds)
        return probe_call(h, callable, args, nargsf, kwnames);
    unsigned want = wanted(h);
    if (!want || atomic_load_explicit(&g_agent.stopping, memory_order_relaxed) || thread_reentered())
        return h->orig(callable, args, nargsf, kwnames);

    int64_t t0 = now_mono_ns();
    call c = {h, args, PyVectorcall_NARGS(nargsf), kwnames, wall_of_mono(t0), -1, NULL, NULL};
    if (want & (1u << AT_ENTER)) {
        thread_set_reentered(1);
        watch_observe(&c, AT_ENTER);
        PyErr_Clear();
        thread_set_reentered(0);
        t0 = now_mono_ns();   /* formatting the entry record is not the call's time */
    }
    h->inflight++;
    PyObject *res = h->orig(callable, args, nargsf, kwnames);
    h->inflight--;
    c.cost = now_mono_ns() - t0;
    if (h->dead) {
        hooks_release(h);
        return res;
    }
    enum where at = res ? AT_EXIT : AT_EXCEPTION;
    if (!(want & (1u << at)) || atomic_load_explicit(&g_agent.stopping, memory_order_relaxed))
        return res;
    if (res && h->is_coro && PyCoro_CheckExact(res)) {
        PyObject *wrapped = watch_async_wrap(&c, t0, res);
        if (wrapped) {
            Py_DECREF(res);
            return wrapped;
        }
    }
    thread_set_reentered(1);
    if (res) {
        c.ret = res;
        watch_observe(&c, at);
        PyErr_Clear();
    } else {
        SAVE_EXC(saved);
        c.exc = EXC_VALUE(saved);
        watch_observe(&c, at);
        PyErr_Clear();
        RESTORE_EXC(saved);
    }
    thread_set_reentered(0);
    return res;
}
