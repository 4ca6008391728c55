/* Requests from peeka-rec (docs/protocol.md): install, ready, stats, ping,
 * remove, detach.  Each answer is one JSON object with the request's id. */
#include "session.h"
#include "cond.h"
#include "hooks.h"
#include "observe.h"
#include "monitor.h"
#include "record.h"
#include "redactor.h"
#include "trace.h"
#include "watch_async.h"

#include <cJSON.h>
#include <stdio.h>
#include <string.h>

static int bool_field(const cJSON *o, const char *k, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

static double num_field(const cJSON *o, const char *k, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* A number field clamped to [lo, hi] (peeka-rec checked it already). */
static int int_in(const cJSON *o, const char *k, int dflt, int lo, int hi)
{
    double v = num_field(o, k, dflt);
    return v < lo ? lo : v > hi ? hi : (int)v;
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
    redactor_free(p->fmt.redact);
    p->fmt.redact = NULL;
    watch_async_probe_free(p);
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

int commands_free_probes(void)
{
    int n = g_agent.nprobes;
    g_agent.nprobes = 0;
    return probes_retire(g_agent.probes, n, 0);
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

static probe *probe_from_json(const cJSON *j, char *err, size_t errlen)
{
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(j, "pattern");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind");
    const cJSON *cond = cJSON_GetObjectItemCaseSensitive(j, "condition");
    if (!cJSON_IsString(pat) || !cJSON_IsString(kind)) {
        snprintf(err, errlen, "probe needs a string 'pattern' and 'kind'");
        return NULL;
    }
    static const char *const kinds[] = {[PK_WATCH] = "watch", [PK_TRACE] = "trace",
                                        [PK_STACK] = "stack", [PK_MONITOR] = "monitor"};
    int k = PK_MONITOR;
    while (k >= PK_WATCH && strcmp(kind->valuestring, kinds[k]) != 0)
        k--;
    if (k < PK_WATCH) {
        snprintf(err, errlen, "probe kind '%s' is not supported by this agent", kind->valuestring);
        return NULL;
    }
    probe *p = calloc(1, sizeof *p);
    if (!p || !(p->pattern = strdup(pat->valuestring)) || !(p->installed = PyList_New(0))) {
        snprintf(err, errlen, "out of memory");
        probe_free(p);
        return NULL;
    }
    p->id = (int)num_field(j, "id", 0);
    p->kind = k;
    p->depth = (int)num_field(j, "depth", 2);
    p->times = (int64_t)num_field(j, "times", -1);
    p->at_enter = bool_field(j, "at_enter", 0);
    p->at_success = bool_field(j, "at_success", 1);
    p->at_exception = bool_field(j, "at_exception", 1);
    p->lenient = bool_field(j, "lenient", 0);
    if (p->depth < 1) p->depth = 1;
    if (p->depth > 16) p->depth = 16;
    p->fmt.max_string = int_in(j, "max_string", FMT_STRING, 1, PEEKA_RECORD_MAX);
    p->fmt.max_items = int_in(j, "max_items", FMT_ITEMS, 1, 1000);
    p->fmt.max_attrs = int_in(j, "max_attrs", FMT_ATTRS, 1, 1000);
    p->fmt.repr = bool_field(j, "repr", 0);
    if (k != PK_WATCH)   /* their records are not watch's */
        p->at_enter = p->at_success = p->at_exception = 0;
    p->max_depth = (int)num_field(j, "max_depth", k == PK_TRACE ? 3 : 10);
    if (p->max_depth < 1) p->max_depth = 1;
    if (p->max_depth > 256) p->max_depth = 256;
    p->skip_builtin = bool_field(j, "skip_builtin", 0);
    p->min_duration_ns = (int64_t)(num_field(j, "min_duration_ms", 0) * 1e6);
    p->fold_below_ns = (int64_t)(num_field(j, "fold_below_ms", 0) * 1e6);
    p->interval_ns = (int64_t)(num_field(j, "interval_s", 60) * 1e9);
    if (p->interval_ns < 10000000) p->interval_ns = 10000000;
    if (k == PK_MONITOR && monitor_state_new(p) < 0) {
        snprintf(err, errlen, "out of memory");
        probe_free(p);
        return NULL;
    }
    if (cJSON_IsString(cond) && cond->valuestring[0]) {
        char cerr[200];
        if (!(p->cond = peeka_cond_compile(cond->valuestring, cerr, sizeof cerr))) {
            snprintf(err, errlen, "condition '%s': %s", cond->valuestring, cerr);
            probe_free(p);
            return NULL;
        }
    }
    const cJSON *rec = cJSON_GetObjectItemCaseSensitive(j, "record");
    if (rec && k != PK_WATCH) {
        snprintf(err, errlen, "probe %d: 'record' is for watch probes", p->id);
        probe_free(p);
        return NULL;
    }
    /* the rules first: they decide which record expressions are hidden */
    if (redact_from_json(p, cJSON_GetObjectItemCaseSensitive(j, "redact"), err, errlen) < 0 ||
        record_compile(p, rec, err, errlen) < 0) {
        probe_free(p);
        return NULL;
    }
    if (k == PK_TRACE && trace_probe_init(p, err, errlen) < 0) {
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
        if (resolve_probe(p, err, errlen) < 0)
            goto undo;
        if (p->kind == PK_MONITOR)
            monitor_register_installed(p);
    }
    if (pending_wanted() && pending_install() < 0) {
        snprintf(err, errlen, "cannot install the import hook for pending probes");
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

/* ping and ready touch no Python object: answering them must not make the
 * application's threads hand over the GIL every second. */
int commands_need_gil(const char *json, size_t len)
{
    cJSON *req = cJSON_ParseWithLength(json, len);
    const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(req, "cmd");
    int need = !(cJSON_IsString(cmd) && (!strcmp(cmd->valuestring, "ping") ||
                                         !strcmp(cmd->valuestring, "ready")));
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
