/* The watch probe: one record per observed call at entry, return or raise,
 * with Peeka's field names.  This is the hottest code peeka has: it runs
 * inside the target's calls, so it does the cheap checks first and formats
 * nothing that no probe asked for. */
#include "watch.h"
#include "dispatch.h"
#include "record.h"
#include "redactor.h"   /* argnames_sync, argnames_write */
#include "watch_async.h"

#include <string.h>

static const char *location_name(enum where at)
{
    return at == AT_ENTER ? "AtEnter" : at == AT_EXIT ? "AtExit" : "AtExceptionExit";
}

static void write_location(jsonw *w, enum where at)
{
    jsonw_lit(w, ",\"location\":\"");
    const char *loc = location_name(at);
    jsonw_raw(w, loc, strlen(loc));
    jsonw_char(w, '"');
}

typedef struct {
    const hooked *h;
    enum where at;
} func_ctx;

/* `,"func_name":…,"location":…,"param_names":[…],"params":[`: the same
 * in every record of a function at a location while its names are. */
static void build_func_part(jsonw *w, const void *arg)
{
    const func_ctx *f = arg;
    write_func_name(w, f->h->name_json, f->h->name_json_len);
    write_location(w, f->at);
    argnames_write(w, f->h);
    jsonw_lit(w, ",\"params\":[");
}

/* The function's part as a segment while its names are constant
 * (segments.h); the same bytes as write_func_name, write_location and
 * write_args_names. */
static void write_func_part(jsonw *w, const call *c, enum where at)
{
    hooked *h = c->h;
    if (argnames_sync(h) < 0) {
        write_func_name(w, h->name_json, h->name_json_len);
        write_location(w, at);
        write_args_names(w, c);
        return;
    }
    if (h->seg_names != h->names_gen) {   /* another __code__: other names */
        for (int i = 0; i < 3; i++)
            h->at_seg[i].gen = 0;
        h->seg_names = h->names_gen;
    }
    func_ctx f = {h, at};
    seg_built(w, &h->at_seg[at], build_func_part, &f);
}

static void build_record(jsonw *w, probe *p, const call *c, const void *arg)
{
    static seg_slot ret_seg, cost_seg, cost_ns_seg;
    enum where at = *(const enum where *)arg;
    write_head_start(w, "watch", p, -1);
    write_head_times(w, p, c->wall);
    if (p->rec) {
        write_func_name(w, c->h->name_json, c->h->name_json_len);
        write_location(w, at);
        record_write(w, p, c);
    } else {
        write_func_part(w, c, at);
        write_args_values(w, c, p->depth);
        seg_lit(w, &ret_seg, ",\"returnObj\":");
        if (at == AT_EXIT)
            fmt_value(w, c->ret, 1, p->depth);
        else
            jsonw_lit(w, "null");
    }
    write_outcome(w, at != AT_EXCEPTION, at == AT_EXCEPTION ? c->exc : NULL);
    seg_lit(w, &cost_seg, ",\"cost\":");
    write_ms(w, c->cost);
    seg_lit(w, &cost_ns_seg, ",\"cost_ns\":");
    jsonw_i64(w, c->cost);
    emit_thread_fields(w);
    jsonw_lit(w, "}\n");
}

/* Probes of other kinds have all three flags off (commands.c). */
static int wants(const probe *p, enum where at)
{
    if (p->done)
        return 0;
    return at == AT_ENTER ? p->at_enter : at == AT_EXIT ? p->at_success : p->at_exception;
}

int watch_wants(const hooked *h, enum where at)
{
    for (int i = 0; i < h->nprobes; i++)
        if (wants(h->probes[i], at))
            return 1;
    return 0;
}

/* Conditions and formatting run user code, which may let the GIL go: the
 * loop reads h->probes afresh each time (a probe removed meanwhile is
 * skipped; its state lives until the guard is left, observe.h). */
void watch_observe(const call *c, enum where at)
{
    hooked *h = c->h;
    for (int i = 0; i < h->nprobes; i++) {
        probe *p = h->probes[i];
        if (wants(p, at) && condition_holds(p, c))
            observe_emit(p, c, build_record, &at, 1);
    }
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

PyObject *observe_call(hooked *h, PyObject *callable, PyObject *const *args,
                       size_t nargsf, PyObject *kwnames)
{
    if (h->other_kinds)
        return probe_call(h, callable, args, nargsf, kwnames);
    unsigned want = wanted(h);
    if (!want || observe_paused())
        return h->orig(callable, args, nargsf, kwnames);

    call c;
    int64_t t0 = observe_call_begin(&c, h, args, nargsf, kwnames);
    observe_guard g;
    if (want & (1u << AT_ENTER)) {
        observe_enter(&g);
        watch_observe(&c, AT_ENTER);
        observe_leave(&g);
        t0 = now_mono_ns();   /* formatting the entry record is not the call's time */
    }
    PyObject *res = h->orig(callable, args, nargsf, kwnames);
    c.cost = now_mono_ns() - t0;
    enum where at = res ? AT_EXIT : AT_EXCEPTION;
    /* a coroutine's outcome is its end's, whichever of the two is wanted */
    int follow = res && h->is_coro && PyCoro_CheckExact(res) &&
                 (want & ((1u << AT_EXIT) | (1u << AT_EXCEPTION)));
    if ((follow || (want & (1u << at))) && !h->dead && !observe_stopping()) {
        PyObject *followed = follow ? watch_async_follow(&c, t0, res) : NULL;
        if (followed) {
            Py_DECREF(res);
            res = followed;
        } else if (want & (1u << at)) {
            observe_enter(&g);
            c.ret = res;
            c.exc = observe_exception(&g);
            watch_observe(&c, at);
            observe_leave(&g);
        }
    }
    observe_call_end(&c);
    return res;
}
