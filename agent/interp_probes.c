/* What the snapshot probes share (interp_probes.h): their options, when they
 * take their snapshot, the head and hand-off of their records, and the
 * one place their changes to the interpreter are undone. */
#include "interp_probes.h"
#include "observe.h"
#include "pattern.h"
#include "probe_snapshot.h"

#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {[PK_MEMORY] = "memory", [PK_LOGGER] = "logger",
                                         [PK_INSPECT] = "inspect", [PK_SC] = "sc", [PK_SM] = "sm"};

static const char *const action_names[] = {
    [SA_NONE] = NULL, [SA_OVERVIEW] = "overview", [SA_GC] = "gc", [SA_TOP] = "top",
    [SA_DIFF] = "diff", [SA_LIST] = "list", [SA_GET] = "get", [SA_SET] = "set",
    [SA_CAPTURE] = "capture", [SA_VALUE] = "get", [SA_COUNT] = "count", [SA_INSTANCES] = "instances",
};

/* The actions each kind has, its default first. */
static const int kind_actions[][5] = {
    [PK_MEMORY] = {SA_OVERVIEW, SA_GC, SA_TOP, SA_DIFF, 0},
    [PK_LOGGER] = {SA_LIST, SA_GET, SA_SET, SA_CAPTURE, 0},
    [PK_INSPECT] = {SA_VALUE, SA_COUNT, SA_INSTANCES, 0},
    [PK_SC] = {SA_NONE, 0}, [PK_SM] = {SA_NONE, 0},
};

static int pick_action(probe *p, const char *want, char *err, size_t errlen)
{
    const int *acts = kind_actions[p->kind];
    p->snap->action = acts[0];
    if (!want)
        return 0;
    for (int i = 0; i < 5 && acts[i]; i++) {
        if (!strcmp(want, action_names[acts[i]])) {
            p->snap->action = acts[i];
            return 0;
        }
    }
    snprintf(err, errlen, "probe %d: %s has no action '%s'", p->id, kind_names[p->kind], want);
    return -1;
}

static int dup_text(char **out, const char *s)
{
    return !s || (*out = strdup(s)) ? 0 : -1;
}

int snap_probe_init(probe *p, const pt_values *v, char *err, size_t errlen)
{
    char why[300];
    if (pt_snapshot_check(v, why, sizeof why) < 0) {
        snprintf(err, errlen, "probe %d: %s", p->id, why);
        return -1;
    }
    if (!(p->snap = calloc(1, sizeof *p->snap))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snap_state *s = p->snap;
    s->limit = (int)pt_num(v, "limit", 20);
    if (pick_action(p, pt_text(v, "action"), err, errlen) < 0)
        return -1;
    if (pt_num(v, "capture", 0) != 0)
        s->action = SA_CAPTURE;
    const char *name_key = p->kind == PK_SM ? "method" : p->kind == PK_INSPECT ? "type" : "name";
    const char *target = p->kind == PK_INSPECT ? pt_text(v, "target") : NULL;
    char *pattern = NULL;
    if (dup_text(&s->name, pt_text(v, name_key)) < 0 || dup_text(&s->level, pt_text(v, "level")) < 0 ||
        dup_text(&pattern, target) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (pattern) {   /* inspect's --target is its func_name, as a pattern is */
        free(p->pattern);
        p->pattern = pattern;
    }
    return 0;
}

int snap_time_is_end(const probe *p)
{
    return p->lenient;   /* launch mode: at install the program has not run yet */
}

/* Does this probe change the interpreter for the recording (and so start
 * at once even in launch mode)? */
static int lasts(const probe *p)
{
    int a = p->snap->action;
    return a == SA_SET || a == SA_CAPTURE || a == SA_TOP || a == SA_DIFF;
}

static int take(probe *p, char *err, size_t errlen)
{
    switch (p->kind) {
    case PK_MEMORY:  return memory_start(p, err, errlen);
    case PK_LOGGER:  return p->snap->action == SA_CAPTURE ? logcapture_start(p, err, errlen)
                                                          : logger_start(p, err, errlen);
    case PK_INSPECT: return inspect_start(p, err, errlen);
    default:         return search_start(p, err, errlen);
    }
}

int snap_probe_start(probe *p, char *err, size_t errlen)
{
    if (snap_time_is_end(p) && !lasts(p))
        return 0;
    p->snap->started = 1;
    int rc = take(p, err, errlen);
    PyErr_Clear();
    return rc;
}

static void end_one(probe *p, int emit)
{
    snap_state *s = p->snap;
    if (!s || s->ended)
        return;
    s->ended = 1;
    if (!s->started) {   /* launch mode's snapshot, taken now */
        char err[512] = "";
        if (emit && take(p, err, sizeof err) < 0)
            snap_write_error(p, "end", err);
    } else if (p->kind == PK_MEMORY) {
        memory_end(p, emit);
    } else if (p->kind == PK_LOGGER && s->action == SA_CAPTURE) {
        logcapture_end(p);
    } else if (p->kind == PK_LOGGER) {
        logger_end(p, emit);
    }
    PyErr_Clear();
}

void snap_probes_end(void)
{
    for (int i = 0; i < g_agent.nprobes; i++)
        if (is_snapshot_kind(g_agent.probes[i]->kind))
            end_one(g_agent.probes[i], 1);
}

void snap_probe_free(probe *p)
{
    snap_state *s = p->snap;
    if (!s)
        return;
    end_one(p, 0);
    Py_CLEAR(s->logger);
    Py_CLEAR(s->old_level);
    Py_CLEAR(s->first);
    free(s->name);
    free(s->level);
    free(s);
    p->snap = NULL;
}

jsonw *snap_begin(probe *p, const char *at)
{
    jsonw *w = thread_writer();
    if (!w)
        return NULL;
    w->fmt = &p->fmt;
    jsonw name;
    char nbuf[8];
    const char *pat = p->pattern && p->pattern[0] ? p->pattern : NULL;
    if (!pat || jsonw_init(&name, 64, PEEKA_PATTERN_MAX * 6 + 2) < 0) {
        name = (jsonw){.buf = nbuf, .len = 4};
        memcpy(nbuf, "null", 4);
        pat = NULL;
    } else {
        jsonw_str(&name, pat, strlen(pat));
        if (name.overflow) {   /* cannot happen within PEEKA_PATTERN_MAX; never half a string */
            jsonw_free(&name);
            name = (jsonw){.buf = nbuf, .len = 4};
            memcpy(nbuf, "null", 4);
            pat = NULL;
        }
    }
    write_head(w, kind_names[p->kind], p, -1, wall_of_mono(now_mono_ns()), name.buf, name.len);
    if (pat)
        jsonw_free(&name);
    const char *act = action_names[p->snap->action];
    if (act) {
        jsonw_lit(w, ",\"action\":");
        jsonw_str(w, act, strlen(act));
    }
    jsonw_lit(w, ",\"at\":");
    jsonw_str(w, at, strlen(at));
    return w;
}

/* A record over the limit becomes a short one that says so: the count
 * peeka-rec waits for must still arrive. */
void snap_finish(probe *p, jsonw *w, const char *at)
{
    jsonw_lit(w, "}\n");
    w->fmt = NULL;
    if (jsonw_over(w)) {
        p->seq--;
        snap_write_error(p, at, "the snapshot is larger than a record may be: narrow it "
                         "(a pattern, --limit, --depth)");
        return;
    }
    emit_record(p, w);
}

void snap_write_error(probe *p, const char *at, const char *msg)
{
    jsonw *w = snap_begin(p, at);
    if (!w)
        return;
    jsonw_lit(w, ",\"error\":");
    jsonw_str(w, msg, strlen(msg));
    jsonw_lit(w, "}\n");
    w->fmt = NULL;
    emit_record(p, w);
}

PyObject *snap_import(const char *name)
{
    PyObject *mods = PySys_GetObject("modules");   /* borrowed */
    PyObject *m = mods && PyDict_Check(mods) ? PyDict_GetItemString(mods, name) : NULL;
    Py_XINCREF(m);
    return m;
}

PyObject *snap_own_attr(PyObject *obj, const char *name)
{
    PyObject *d = NULL;
    if (PyModule_Check(obj)) {
        d = PyModule_GetDict(obj);   /* borrowed */
        Py_XINCREF(d);
    } else if (PyType_Check(obj)) {
        d = ((PyTypeObject *)obj)->tp_dict;
        Py_XINCREF(d);
    } else if (Py_TYPE(obj)->tp_dictoffset != 0) {
        d = PyObject_GenericGetDict(obj, NULL);
    }
    PyObject *v = d && PyDict_Check(d) ? PyDict_GetItemString(d, name) : NULL;
    Py_XINCREF(v);
    Py_XDECREF(d);
    PyErr_Clear();
    return v;
}

PyObject *snap_class_attr(PyTypeObject *t, const char *name)
{
    PyObject *mro = t->tp_mro;
    for (Py_ssize_t i = 0; mro && PyTuple_Check(mro) && i < PyTuple_GET_SIZE(mro); i++) {
        PyObject *v = snap_own_attr(PyTuple_GET_ITEM(mro, i), name);
        if (v)
            return v;
    }
    return NULL;
}
