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

/* probe_id (and a monitor's cycle) come early because peeka-rec finds them
 * by position. */
void write_head(jsonw *w, const char *kind, probe *p, int64_t cycle, int64_t wall,
                const char *name_json, size_t name_len)
{
    jsonw_lit(w, "{\"type\":\"observation\",\"kind\":\"");
    jsonw_raw(w, kind, strlen(kind));
    jsonw_lit(w, "\",\"probe_id\":");
    jsonw_i64(w, p->id);
    if (cycle >= 0) {
        jsonw_lit(w, ",\"cycle\":");
        jsonw_i64(w, cycle);
    }
    if (p->kind == PK_WATCH) {   /* Peeka's name for the same number */
        jsonw_lit(w, ",\"watch_id\":");
        jsonw_i64(w, p->id);
    }
    jsonw_lit(w, ",\"seq\":");
    jsonw_i64(w, ++p->seq);
    jsonw_lit(w, ",\"ts_ns\":");
    jsonw_i64(w, wall);
    jsonw_lit(w, ",\"timestamp\":");
    write_seconds(w, wall);
    jsonw_lit(w, ",\"func_name\":");
    jsonw_raw(w, name_json, name_len);
    if (g_record_pid) {
        jsonw_lit(w, ",\"pid\":");
        jsonw_i64(w, g_record_pid);
    }
}

void write_record_head(jsonw *w, const char *kind, probe *p, const call *c)
{
    write_head(w, kind, p, -1, c->wall, c->h->name_json, c->h->name_json_len);
}

void write_outcome(jsonw *w, int ok, PyObject *exc)
{
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

/* Parameters by name (the code object's), keyword arguments by keyword:
 * a value a redaction rule names is never formatted. */
void write_args(jsonw *w, const call *c, int depth)
{
    hooked *h = c->h;
    redactor *r = fmt_rules(w);
    Py_ssize_t first = h->has_self && c->nargs > 0 ? 1 : 0;
    if (argnames_sync(h) == 0)
        argnames_write(w, h);
    jsonw_lit(w, ",\"params\":[");
    for (Py_ssize_t i = first; i < c->nargs; i++) {
        if (i > first) jsonw_char(w, ',');
        if (r && redactor_param(r, h, i))
            fmt_redacted(w);
        else
            fmt_value(w, c->args[i], 1, depth);
    }
    jsonw_lit(w, "],\"kwargs\":{");
    Py_ssize_t nk = c->kwnames ? PyTuple_GET_SIZE(c->kwnames) : 0;
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

void observe_emit(probe *p, const call *c, record_builder build, const void *arg, int retry_small)
{
    jsonw *w = thread_writer();
    if (!w)
        return;
    w->fmt = &p->fmt;
    build(w, p, c, arg);
    if (w->overflow && retry_small) {
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
