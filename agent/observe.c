/* The observation layer (observe.h): the pieces every record is made of,
 * the condition check, the hand-off of a finished record, and the wait
 * that lets probe state be freed. */
#include "observe.h"
#include "cond.h"
#include "redactor.h"
#include "session.h"

#include <string.h>
#include <unistd.h>

int g_record_pid;

int observe_quiesce(void)
{
    for (int i = 0; i < 1000 && g_agent.observing > 0; i++) {
        Py_BEGIN_ALLOW_THREADS
        session_quiesce_tick();
        usleep(1000);
        Py_END_ALLOW_THREADS
    }
    return g_agent.observing == 0;
}

int observe_probe_on(const hooked *h, const probe *p)
{
    for (int i = 0; i < h->nprobes; i++)
        if (h->probes[i] == p)
            return 1;
    return 0;
}

void call_env(const call *c, peeka_cond_env *env)
{
    *env = (peeka_cond_env){
        .args = c->args, .nargs = c->nargs, .kwnames = c->kwnames,
        .code = PyFunction_GET_CODE(c->h->func), .has_self = c->h->has_self,
        .ret = c->ret, .exc = c->exc,
        .cost_ms = c->cost < 0 ? -1.0 : (double)c->cost / 1e6,
    };
}

int condition_holds(probe *p, const call *c)
{
    if (!p->cond)
        return 1;
    peeka_cond_env env;
    call_env(c, &env);
    int r = peeka_cond_eval(p->cond, &env);
    if (r < 0)
        p->cond_errors++;
    return r == 1;
}

/* Seconds with microseconds, exact from ts_ns. */
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

/* `{"type":"observation","kind":…,"probe_id":…[,"cycle":…][,"watch_id":…],"seq":`:
 * without a cycle, the same in every record of the probe: a segment
 * (segments.h). */
typedef struct {
    const char *kind;
    const probe *p;
    int64_t cycle;   /* -1: none */
} head_ctx;

static void build_head(jsonw *w, const void *arg)
{
    const head_ctx *h = arg;
    jsonw_lit(w, "{\"type\":\"observation\",\"kind\":\"");
    jsonw_raw(w, h->kind, strlen(h->kind));
    jsonw_lit(w, "\",\"probe_id\":");
    jsonw_i64(w, h->p->id);
    if (h->cycle >= 0) {
        jsonw_lit(w, ",\"cycle\":");
        jsonw_i64(w, h->cycle);
    }
    if (h->p->kind == PK_WATCH) {   /* Peeka's name for the same number */
        jsonw_lit(w, ",\"watch_id\":");
        jsonw_i64(w, h->p->id);
    }
    jsonw_lit(w, ",\"seq\":");
}

/* probe_id (and a monitor's cycle) come early because peeka-rec finds them
 * by position. */
void write_head_start(jsonw *w, const char *kind, probe *p, int64_t cycle)
{
    head_ctx h = {kind, p, cycle};
    if (cycle < 0)
        seg_built(w, &p->head_seg, build_head, &h);
    else
        build_head(w, &h);
}

/* `…"seq":N,"ts_ns":…,"timestamp":…`: the part of the head that changes. */
void write_head_times(jsonw *w, probe *p, int64_t wall)
{
    static seg_slot ts_seg, stamp_seg;
    jsonw_i64(w, ++p->seq);
    seg_lit(w, &ts_seg, ",\"ts_ns\":");
    jsonw_i64(w, wall);
    seg_lit(w, &stamp_seg, ",\"timestamp\":");
    write_seconds(w, wall);
}

/* `,"func_name":…[,"pid":…]` */
void write_func_name(jsonw *w, const char *name_json, size_t name_len)
{
    jsonw_lit(w, ",\"func_name\":");
    jsonw_raw(w, name_json, name_len);
    if (g_record_pid) {
        jsonw_lit(w, ",\"pid\":");
        jsonw_i64(w, g_record_pid);
    }
}

void write_head(jsonw *w, const char *kind, probe *p, int64_t cycle, int64_t wall,
                const char *name_json, size_t name_len)
{
    write_head_start(w, kind, p, cycle);
    write_head_times(w, p, wall);
    write_func_name(w, name_json, name_len);
}

void write_record_head(jsonw *w, const char *kind, probe *p, const call *c)
{
    write_head(w, kind, p, -1, c->wall, c->h->name_json, c->h->name_json_len);
}

void write_outcome(jsonw *w, int ok, PyObject *exc)
{
    static seg_slot ok_seg;   /* the common case, constant */
    if (ok && !exc) {
        seg_lit(w, &ok_seg, ",\"success\":true,\"throwExp\":null,\"throwTrace\":null");
        return;
    }
    if (ok)
        jsonw_lit(w, ",\"success\":true,\"throwExp\":");
    else
        jsonw_lit(w, ",\"success\":false,\"throwExp\":");
    if (exc)
        fmt_exception(w, exc);
    else
        jsonw_lit(w, "null");
    write_throw_trace(w, exc);
}

/* `,"param_names":[…],"params":[`; 0 when the names are known (the
 * code object's, argnames.c), -1 when they could not be read. */
int write_args_names(jsonw *w, const call *c)
{
    int rc = argnames_sync(c->h);
    if (rc == 0)
        argnames_write(w, c->h);
    jsonw_lit(w, ",\"params\":[");
    return rc;
}

/* The values after write_args_names: `…],"kwargs":{…},"target":…`.
 * Parameters by name, keyword arguments by keyword: a value a redaction
 * rule names is never formatted. */
void write_args_values(jsonw *w, const call *c, int depth)
{
    static seg_slot plain_seg;   /* no keywords, no self: a constant run */
    hooked *h = c->h;
    redactor *r = fmt_rules(w);
    Py_ssize_t first = h->has_self && c->nargs > 0 ? 1 : 0;
    for (Py_ssize_t i = first; i < c->nargs; i++) {
        if (i > first) jsonw_char(w, ',');
        if (r && redactor_param(r, h, i))
            fmt_redacted(w);
        else
            fmt_value(w, c->args[i], 1, depth);
    }
    Py_ssize_t nk = c->kwnames ? PyTuple_GET_SIZE(c->kwnames) : 0;
    if (!first && !nk) {
        seg_lit(w, &plain_seg, "],\"kwargs\":{},\"target\":null");
        return;
    }
    jsonw_lit(w, "],\"kwargs\":{");
    for (Py_ssize_t i = 0; i < nk; i++) {
        PyObject *k = PyTuple_GET_ITEM(c->kwnames, i);
        if (i) jsonw_char(w, ',');
        fmt_value(w, k, 1, depth);
        jsonw_char(w, ':');
        if (r && redactor_key(r, k))
            fmt_redacted(w);
        else
            fmt_value(w, c->args[c->nargs + i], 1, depth);
    }
    jsonw_lit(w, "},\"target\":");
    if (first)
        fmt_value(w, c->args[0], 1, depth);
    else
        jsonw_lit(w, "null");
}

void write_args(jsonw *w, const call *c, int depth)
{
    write_args_names(w, c);
    write_args_values(w, c, depth);
}

void observe_emit(probe *p, const call *c, record_builder build, const void *arg, int retry_small)
{
    jsonw *w = thread_writer();
    if (!w)
        return;
    w->fmt = &p->fmt;
    build(w, p, c, arg);
    if (jsonw_over(w) && retry_small) {
        int depth = p->depth;
        p->depth = 1;
        jsonw_reset(w);
        p->seq--;
        build(w, p, c, arg);
        p->depth = depth;
    }
    w->fmt = NULL;
    emit_record(p, w);
}
