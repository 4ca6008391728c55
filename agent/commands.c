/* Requests from peeka-rec (docs/protocol.md): install, ready, stats, ping,
 * remove, detach.  Each answer is one JSON object with the request's id. */
#include "session.h"
#include "exec_children.h"
#include "cond.h"
#include "hooks.h"
#include "observe.h"
#include "monitor.h"
#include "record.h"
#include "redactor.h"
#include "interp_probes.h"
#include "trace.h"
#include "watch_async.h"
#include "probe_values.h"
#include "sampler.h"
#include "top.h"

#include <cJSON.h>
#include <stdio.h>
#include <string.h>

static double num_field(const cJSON *o, const char *k, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* What a probe needs to observe: a removed probe gives it back, and keeps
 * its counts for the summary. */
static void probe_free_state(probe *p)
{
    if (p->cond)
        peeka_cond_free(p->cond);
    p->cond = NULL;
    monitor_state_free(p);
    trace_probe_free(p);
    record_free(p);
    top_state_free(p);
    redactor_free(p->fmt.redact);
    p->fmt.redact = NULL;
    watch_async_probe_free(p);
    snap_probe_free(p);
}

/* Only for a probe no hook has ever seen (still being built), or through
 * probes_retire. */
static void probe_free(probe *p)
{
    if (!p)
        return;
    probe_free_state(p);
    free(p->pattern);
    Py_XDECREF(p->installed);
    Py_XDECREF(p->searched);
    Py_XDECREF(p->suggest);
    free(p);
}

/* Unlisted probes a retire is waiting to free (observe_quiesce lets the
 * GIL go, and another thread may fork meanwhile): the child finishes the
 * job, commands_after_fork. */
static probe *const *retiring;
static int nretiring;

/* The one way probe state goes away once a probe was installed: off every
 * function, then wait until no hook is inside the observation guard (one
 * may hold the probe while user code runs, observe.h), then free: the
 * whole probe, or with `keep` only its state.  On timeout nothing is
 * freed: leaked, never freed under a running hook.  Returns 1 when freed. */
static int probes_retire(probe *const *ps, int n, int keep)
{
    for (int i = 0; i < n; i++) {
        ps[i]->pending = 0;   /* no later import brings it back */
        ps[i]->done = 1;
        hooks_remove_probe(ps[i]);
    }
    if (!keep) {
        retiring = ps;
        nretiring = n;
    }
    int quiet = observe_quiesce();
    nretiring = 0;
    if (!quiet)
        return 0;
    for (int i = 0; i < n; i++) {
        if (keep)
            probe_free_state(ps[i]);
        else
            probe_free(ps[i]);
    }
    return 1;
}

void commands_after_fork(void)
{
    if (nretiring > 0)
        probes_retire(retiring, nretiring, 0);
}

/* Probes a retire had to leave allocated (a hook stayed inside the guard
 * past the quiesce): remembered rather than forgotten, so that peeka-rec
 * --uninstall can free them once no hook is inside any more.  Beyond the
 * bound they stay leaked, as before. */
#define MAX_LEFTOVER (4 * MAX_PROBES)
static probe *leftover[MAX_LEFTOVER];
static int nleftover;

int commands_free_probes(void)
{
    int n = g_agent.nprobes;
    g_agent.nprobes = 0;
    if (probes_retire(g_agent.probes, n, 0))
        return 1;
    for (int i = 0; i < n && nleftover < MAX_LEFTOVER; i++)
        leftover[nleftover++] = g_agent.probes[i];
    return 0;
}

int commands_free_leftovers(void)
{
    if (nleftover == 0 || !observe_quiesce())
        return 0;
    int n = nleftover;
    for (int i = 0; i < n; i++)
        probe_free(leftover[i]);
    nleftover = 0;
    return n;
}

/* `redact`: the probe's every rule (peeka-rec adds the default set and
 * the global ones); none, or an empty list, redacts nothing. */
static int redact_from_json(probe *p, const cJSON *list, char *err, size_t errlen)
{
    if (!list)
        return 0;
    if (!cJSON_IsArray(list)) {
        snprintf(err, errlen, "probe %d: 'redact' is not a list of rules", p->id);
        return -1;
    }
    if (cJSON_GetArraySize(list) == 0)
        return 0;
    if (!(p->fmt.redact = redactor_new())) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const cJSON *rule;
    cJSON_ArrayForEach(rule, list) {
        char why[400];
        if (!cJSON_IsString(rule)) {
            snprintf(err, errlen, "probe %d: a redaction rule is not a string", p->id);
            return -1;
        }
        if (redactor_add(p->fmt.redact, rule->valuestring, why, sizeof why) < 0) {
            snprintf(err, errlen, "probe %d: %s", p->id, why);
            return -1;
        }
    }
    return 0;
}

/* The options the table gives the kind, checked there (probe_values.c),
 * into the probe's own fields. */
static void probe_options(probe *p, const pt_values *v)
{
    p->depth = (int)pt_num(v, "depth", 2);
    p->times = (int64_t)pt_num(v, "times", -1);
    p->at_enter = (int)pt_num(v, "at_enter", 0);   /* watch's alone */
    p->at_success = (int)pt_num(v, "at_success", 0);
    p->at_exception = (int)pt_num(v, "at_exception", 0);
    p->fmt.max_string = (int)pt_num(v, "max_string", FMT_STRING);
    p->fmt.max_items = (int)pt_num(v, "max_items", FMT_ITEMS);
    p->fmt.max_attrs = (int)pt_num(v, "max_attrs", FMT_ATTRS);
    p->fmt.repr = (int)pt_num(v, "repr", 0);
    p->max_depth = (int)pt_num(v, "max_depth", 10);
    p->skip_builtin = (int)pt_num(v, "skip_builtin", 0);
    p->min_duration_ns = (int64_t)(pt_num(v, "min_duration_ms", 0) * 1e6);
    p->fold_below_ns = (int64_t)(pt_num(v, "fold_below_ms", 0) * 1e6);
    p->interval_ns = (int64_t)(pt_num(v, "interval_s", 60) * 1e9);
    p->tid_filter = (int64_t)pt_num(v, "tid", 0);
    p->wait_ns = (int64_t)(pt_num(v, "wait_s", 1) * 1e9);
    p->idle = (int)pt_num(v, "idle", 0);
    const char *state = pt_text(v, "state"), *sort = pt_text(v, "sort_by");
    snprintf(p->state_filter, sizeof p->state_filter, "%s", state ? state : "any");
    snprintf(p->sort_by, sizeof p->sort_by, "%s", sort ? sort : "tid");
}

static int condition_compile(probe *p, const char *cond, char *err, size_t errlen)
{
    if (!cond || !cond[0])
        return 0;
    char cerr[200];
    if (!(p->cond = peeka_cond_compile(cond, cerr, sizeof cerr))) {
        snprintf(err, errlen, "condition '%s': %s", cond, cerr);
        return -1;
    }
    return 0;
}

/* Everything but the options: what the kind needs before it observes. */
static int probe_build(probe *p, const cJSON *j, const pt_values *v, char *err, size_t errlen)
{
    if (p->kind == PK_MONITOR && monitor_state_new(p) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (condition_compile(p, pt_text(v, "condition"), err, errlen) < 0)
        return -1;
    /* the rules first: they decide which record expressions are hidden */
    if (redact_from_json(p, cJSON_GetObjectItemCaseSensitive(j, "redact"), err, errlen) < 0 ||
        record_compile(p, cJSON_GetObjectItemCaseSensitive(j, "record"), err, errlen) < 0)
        return -1;
    if (p->kind == PK_TRACE && trace_probe_init(p, err, errlen) < 0)
        return -1;
    if (is_snapshot_kind(p->kind) && snap_probe_init(p, v, err, errlen) < 0)
        return -1;
    return 0;
}

static probe *probe_from_json(const cJSON *j, char *err, size_t errlen)
{
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(j, "pattern");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind");
    const pt_kind *k = cJSON_IsString(kind) ? pt_kind_named(kind->valuestring) : NULL;
    if (!cJSON_IsString(kind) || (k && k->operand && !cJSON_IsString(pat))) {
        snprintf(err, errlen, "probe needs a string 'pattern' and 'kind'");
        return NULL;
    }
    if (!k) {
        snprintf(err, errlen, "probe kind '%s' is not supported by this agent", kind->valuestring);
        return NULL;
    }
    int id = (int)num_field(j, "id", 0);
    pt_values v;
    if (pt_values_get(&v, k, j, id, err, errlen) < 0)
        return NULL;
    probe *p = calloc(1, sizeof *p);
    if (!p || !(p->pattern = strdup(cJSON_IsString(pat) ? pat->valuestring : "")) ||
        !(p->installed = PyList_New(0))) {
        snprintf(err, errlen, "out of memory");
        probe_free(p);
        pt_values_free(&v);
        return NULL;
    }
    p->id = id;
    p->kind = k->kind;
    p->lenient = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "lenient"));
    probe_options(p, &v);
    int rc = probe_build(p, j, &v, err, errlen);
    pt_values_free(&v);
    if (rc < 0) {
        probe_free(p);
        return NULL;
    }
    return p;
}

static cJSON *probe_stats(const probe *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", p->id);
    cJSON_AddNumberToObject(o, "observations", (double)p->observations);
    cJSON_AddNumberToObject(o, "drops", (double)p->drops);
    cJSON_AddNumberToObject(o, "condition_errors", (double)p->cond_errors);
    cJSON_AddBoolToObject(o, "pending", p->pending);
    cJSON_AddBoolToObject(o, "done", p->done);
    cJSON *inst = cJSON_AddArrayToObject(o, "installed");
    for (Py_ssize_t i = 0; p->installed && i < PyList_GET_SIZE(p->installed); i++) {
        const char *s = PyUnicode_AsUTF8(PyList_GET_ITEM(p->installed, i));
        if (s)
            cJSON_AddItemToArray(inst, cJSON_CreateString(s));
    }
    if (p->searched && PyList_GET_SIZE(p->installed) == 0) {
        const char *m = PyUnicode_AsUTF8(p->searched);
        cJSON_AddStringToObject(o, "searched", m ? m : "?");
        cJSON *sug = cJSON_AddArrayToObject(o, "suggest");
        for (Py_ssize_t i = 0; p->suggest && i < PyList_GET_SIZE(p->suggest); i++) {
            const char *s = PyUnicode_AsUTF8(PyList_GET_ITEM(p->suggest, i));
            if (s)
                cJSON_AddItemToArray(sug, cJSON_CreateString(s));
        }
    }
    PyErr_Clear();
    return o;
}

static cJSON *reply_new(double id, int ok)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "id", id);
    cJSON_AddBoolToObject(r, "ok", ok);
    return r;
}

static void add_stats(cJSON *r)
{
    cJSON *arr = cJSON_AddArrayToObject(r, "probes");
    for (int i = 0; i < g_agent.nprobes; i++)
        cJSON_AddItemToArray(arr, probe_stats(g_agent.probes[i]));
    cJSON_AddNumberToObject(r, "drops", (double)g_agent.drops);
    cJSON_AddNumberToObject(r, "observations", (double)g_agent.emitted);
    cJSON_AddNumberToObject(r, "hooks", hooks_count());
}

/* Resolving can let the GIL go (it asks importlib whether a module exists),
 * and an import another thread finished in that time, before the import
 * hook was on sys.meta_path, told no one: a gunicorn worker loading its app
 * while we attach.  Every later import is told, so one more look at the
 * probes still pending closes the gap. */
static void look_again(int first)
{
    for (int i = first; i < g_agent.nprobes; i++) {
        char ignored[256] = "";
        if (g_agent.probes[i]->pending && resolve_probe(g_agent.probes[i], ignored, sizeof ignored) < 0)
            PyErr_Clear();   /* as after any import: the probe stays pending */
    }
}

/* All or nothing: a probe that fails to resolve removes the ones before it,
 * so a typo never leaves half a recording installed. */
static int install(const cJSON *req, cJSON *r, char *err, size_t errlen)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(req, "probes");
    if (!cJSON_IsArray(list)) {
        snprintf(err, errlen, "install needs a 'probes' array");
        return -1;
    }
    /* before any hook can run: --lossless (docs/protocol.md "Requests") */
    const cJSON *policy = cJSON_GetObjectItemCaseSensitive(req, "policy");
    if (cJSON_IsString(policy) && !strcmp(policy->valuestring, "lossless"))
        g_agent.lossless = 1;
    int first = g_agent.nprobes;
    const cJSON *j;
    cJSON_ArrayForEach(j, list) {
        if (g_agent.nprobes == MAX_PROBES) {
            snprintf(err, errlen, "too many probes (limit %d)", MAX_PROBES);
            goto undo;
        }
        probe *p = probe_from_json(j, err, errlen);
        if (!p)
            goto undo;
        g_agent.probes[g_agent.nprobes++] = p;
        if (p->kind == PK_THREAD || p->kind == PK_TOP) {   /* every thread: no function to resolve */
            if (sampler_install(p, err, errlen) < 0)
                goto undo;
            continue;
        }
        if (is_snapshot_kind(p->kind) ? snap_probe_start(p, err, errlen) < 0
                                      : resolve_probe(p, err, errlen) < 0)
            goto undo;
        if (p->kind == PK_MONITOR)
            monitor_register_installed(p);
    }
    if (pending_wanted() && pending_install() < 0) {
        snprintf(err, errlen, "cannot install the import hook for pending probes");
        PyErr_Clear();
        goto undo;
    }
    if (session_follows() && exec_children_watch() < 0) {
        snprintf(err, errlen, "cannot install the import hook for --follow-forks");
        PyErr_Clear();
        goto undo;
    }
    look_again(first);
    add_stats(r);
    return 0;
undo: ;
    int n = g_agent.nprobes - first;
    g_agent.nprobes = first;   /* unlisted first: the quiesce lets imports run */
    probes_retire(&g_agent.probes[first], n, 0);
    PyErr_Clear();
    return -1;
}

static int remove_probe(const cJSON *req, char *err, size_t errlen)
{
    int id = (int)num_field(req, "probe_id", -1);
    for (int i = 0; i < g_agent.nprobes; i++) {
        probe *p = g_agent.probes[i];
        if (p->id != id)
            continue;
        probes_retire(&p, 1, 1);   /* stays listed so its counts reach the summary */
        return 0;
    }
    snprintf(err, errlen, "no probe with id %d", id);
    return -1;
}

/* ping, ready and child_recorded touch no Python object: answering them must not make the
 * application's threads hand over the GIL every second. */
int commands_need_gil(const char *json, size_t len)
{
    cJSON *req = cJSON_ParseWithLength(json, len);
    const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(req, "cmd");
    int need = !(cJSON_IsString(cmd) && (!strcmp(cmd->valuestring, "ping") ||
                                         !strcmp(cmd->valuestring, "ready") ||
                                         !strcmp(cmd->valuestring, "child_recorded")));
    cJSON_Delete(req);
    return need;
}

char *commands_handle(const char *json, size_t len, int *detach, int *ready)
{
    char err[512] = "";
    cJSON *req = cJSON_ParseWithLength(json, len);
    const cJSON *cmd = req ? cJSON_GetObjectItemCaseSensitive(req, "cmd") : NULL;
    double id = req ? num_field(req, "id", 0) : 0;
    cJSON *r = reply_new(id, 1);
    int rc = 0;
    if (!cJSON_IsString(cmd)) {
        snprintf(err, sizeof err, "request is not a JSON object with a 'cmd' string");
        rc = -1;
    } else if (!strcmp(cmd->valuestring, "install")) {
        rc = install(req, r, err, sizeof err);
    } else if (!strcmp(cmd->valuestring, "ready")) {
        *ready = 1;
    } else if (!strcmp(cmd->valuestring, "stats")) {
        add_stats(r);
    } else if (!strcmp(cmd->valuestring, "child_recorded")) {
        exec_children_released((int)num_field(req, "pid", 0));
    } else if (!strcmp(cmd->valuestring, "ping")) {
        /* the lease is renewed by any frame */
    } else if (!strcmp(cmd->valuestring, "remove")) {
        rc = remove_probe(req, err, sizeof err);
    } else if (!strcmp(cmd->valuestring, "detach")) {
        *detach = 1;
    } else {
        snprintf(err, sizeof err, "unknown command '%s'", cmd->valuestring);
        rc = -1;
    }
    if (rc < 0) {
        cJSON_ReplaceItemInObject(r, "ok", cJSON_CreateFalse());
        cJSON_AddStringToObject(r, "error", err);
    }
    char *out = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    cJSON_Delete(req);
    return out;
}

/* The final word of a session: counts that must match the archive. */
char *commands_stats_json(const char *extra_key, const char *extra_val)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "event", "detached");
    if (extra_key)
        cJSON_AddStringToObject(r, extra_key, extra_val);
    add_stats(r);
    char *out = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    return out;
}
