/* The memory probe (Peeka's `memory`): rss and vms, the collector's counts
 * and thresholds, live objects by type; with `top` and `diff` the
 * allocation sites tracemalloc sees, at the end of the recording (diff:
 * their growth since its start).  tracemalloc is started for the recording
 * only when it was off, and then stopped at its end: a program that traces
 * already keeps its traces.  Everything is read through C functions (gc,
 * _tracemalloc): no Python code of the program or of tracemalloc.py runs. */
#include "interp_probes.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

/* rss and vms in bytes from /proc/self/statm; -1 -1 when unreadable. */
static void read_statm(int64_t *rss, int64_t *vms)
{
    *rss = *vms = -1;
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[128];
    ssize_t n;
    do n = read(fd, buf, sizeof buf - 1); while (n < 0 && errno == EINTR);
    (void)close(fd);
    if (n <= 0)
        return;
    buf[n] = 0;
    long long size, res;
    long page = sysconf(_SC_PAGESIZE);
    if (page > 0 && sscanf(buf, "%lld %lld", &size, &res) == 2) {
        *vms = size * page;
        *rss = res * page;
    }
}

/* module.fn() for a builtin module's function, or NULL (no error left). */
static PyObject *call0(const char *module, const char *fn)
{
    PyObject *m = PyImport_ImportModule(module);
    PyObject *r = m ? PyObject_CallMethod(m, fn, NULL) : NULL;
    Py_XDECREF(m);
    if (!r)
        PyErr_Clear();
    return r;
}

static void write_field(jsonw *w, const char *key, PyObject *v)
{
    jsonw_key(w, key, 0);
    if (v)
        fmt_value(w, v, 0, 4);
    else
        jsonw_lit(w, "null");
    Py_XDECREF(v);
}

static void write_sizes(jsonw *w)
{
    int64_t rss, vms;
    read_statm(&rss, &vms);
    jsonw_lit(w, ",\"rss\":");
    jsonw_i64(w, rss);
    jsonw_lit(w, ",\"vms\":");
    jsonw_i64(w, vms);
}

static void write_gc(jsonw *w, int stats)
{
    jsonw_lit(w, ",\"gc\":{\"enabled\":");
    PyObject *on = call0("gc", "isenabled");
    jsonw_raw(w, on == Py_True ? "true" : "false", on == Py_True ? 4 : 5);
    Py_XDECREF(on);
    write_field(w, "count", call0("gc", "get_count"));
    write_field(w, "threshold", call0("gc", "get_threshold"));
    if (stats) {
        write_field(w, "stats", call0("gc", "get_stats"));
        PyObject *gc = PyImport_ImportModule("gc");
        PyObject *garbage = gc ? PyObject_GetAttrString(gc, "garbage") : NULL;
        jsonw_lit(w, ",\"garbage\":");
        jsonw_i64(w, garbage && PyList_Check(garbage) ? (int64_t)PyList_GET_SIZE(garbage) : -1);
        Py_XDECREF(garbage);
        Py_XDECREF(gc);
        PyErr_Clear();
    }
    jsonw_char(w, '}');
}

/* A list sorted by its tuples' first items, largest first, cut to n. */
static int sort_desc(PyObject *list, Py_ssize_t n)
{
    if (PyList_Sort(list) < 0 || PyList_Reverse(list) < 0)
        return -1;
    Py_ssize_t len = PyList_GET_SIZE(list);
    return len > n ? PyList_SetSlice(list, n, len, NULL) : 0;
}

/* (count, "module.Qualname") of every type among the collector's
 * objects, most numerous first, cut to limit; *n their number.  NULL on
 * failure. */
static PyObject *count_types(int limit, Py_ssize_t *n)
{
    PyObject *all = call0("gc", "get_objects");
    PyObject *counts = all && PyList_Check(all) ? PyDict_New() : NULL, *rows = counts ? PyList_New(0) : NULL;
    *n = rows ? PyList_GET_SIZE(all) : 0;
    for (Py_ssize_t i = 0; rows && i < *n; i++) {
        PyObject *t = (PyObject *)Py_TYPE(PyList_GET_ITEM(all, i));
        PyObject *c = PyDict_GetItemWithError(counts, t);
        PyObject *k = PyLong_FromSsize_t(c ? PyLong_AsSsize_t(c) + 1 : 1);
        if (!k || PyDict_SetItem(counts, t, k) < 0)
            Py_CLEAR(rows);
        Py_XDECREF(k);
    }
    PyObject *t, *c;
    Py_ssize_t pos = 0;
    while (rows && PyDict_Next(counts, &pos, &t, &c)) {
        PyObject *name = fmt_type_name((PyTypeObject *)t);
        PyObject *row = name ? PyTuple_Pack(2, c, name) : NULL;
        if (!row || PyList_Append(rows, row) < 0)
            Py_CLEAR(rows);
        Py_XDECREF(row);
        Py_XDECREF(name);
    }
    if (rows && sort_desc(rows, limit) < 0)
        Py_CLEAR(rows);
    Py_XDECREF(counts);
    Py_XDECREF(all);
    PyErr_Clear();
    return rows;
}

/* Live objects the collector tracks, by type: `"objects":N,"types":[...]`. */
static void write_types(jsonw *w, int limit)
{
    Py_ssize_t n;
    PyObject *rows = count_types(limit, &n);
    if (!rows)
        return;
    jsonw_lit(w, ",\"objects\":");
    jsonw_i64(w, (int64_t)n);
    jsonw_lit(w, ",\"types\":[");
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(rows); i++) {
        PyObject *row = PyList_GET_ITEM(rows, i);
        if (i) jsonw_char(w, ',');
        jsonw_lit(w, "{\"type\":");
        fmt_text_or_null(w, PyTuple_GET_ITEM(row, 1));
        jsonw_lit(w, ",\"count\":");
        fmt_value(w, PyTuple_GET_ITEM(row, 0), 0, 1);
        jsonw_char(w, '}');
    }
    jsonw_char(w, ']');
    Py_DECREF(rows);
}

/* tracemalloc as the recording's probes hold it: started by the first
 * top/diff probe when it was off, stopped when the last one ended. */
static int tm_users, tm_started;

static int tracing(void)
{
    PyObject *r = call0("_tracemalloc", "is_tracing");
    int on = r == Py_True;
    Py_XDECREF(r);
    return on;
}

/* `,"tracemalloc":{...}`: whether it traces and, if so, its totals. */
static void write_tracemalloc(jsonw *w)
{
    int on = tracing();
    jsonw_lit(w, ",\"tracemalloc\":{\"tracing\":");
    jsonw_raw(w, on ? "true" : "false", on ? 4 : 5);
    if (on) {
        PyObject *tm = call0("_tracemalloc", "get_traced_memory");   /* (current, peak) */
        if (tm && PyTuple_Check(tm) && PyTuple_GET_SIZE(tm) == 2) {
            write_field(w, "current", (Py_INCREF(PyTuple_GET_ITEM(tm, 0)), PyTuple_GET_ITEM(tm, 0)));
            write_field(w, "peak", (Py_INCREF(PyTuple_GET_ITEM(tm, 1)), PyTuple_GET_ITEM(tm, 1)));
        }
        Py_XDECREF(tm);
    }
    snap_bool(w, "started_by_peeka", tm_started);
    jsonw_char(w, '}');
}

/* Adds n to item i of the list [size, count] in d under key. */
static int add_to(PyObject *d, PyObject *key, PyObject *size)
{
    PyObject *row = PyDict_GetItemWithError(d, key);
    if (!row) {
        if (PyErr_Occurred())
            return -1;
        PyObject *one = PyLong_FromLong(1);
        row = one ? PyList_New(2) : NULL;
        if (!row) {
            Py_XDECREF(one);
            return -1;
        }
        Py_INCREF(size);
        PyList_SET_ITEM(row, 0, size);
        PyList_SET_ITEM(row, 1, one);
        int rc = PyDict_SetItem(d, key, row);
        Py_DECREF(row);
        return rc;
    }
    PyObject *sum = PyNumber_Add(PyList_GET_ITEM(row, 0), size);
    PyObject *cnt = PyLong_FromSsize_t(PyLong_AsSsize_t(PyList_GET_ITEM(row, 1)) + 1);
    if (!sum || !cnt) {
        Py_XDECREF(sum);
        Py_XDECREF(cnt);
        return -1;
    }
    PyList_SetItem(row, 0, sum);
    PyList_SetItem(row, 1, cnt);
    return 0;
}

/* The traced blocks by allocation site (the innermost frame tracemalloc
 * kept): {(file, line): [size, count]}, or NULL. */
static PyObject *sites(void)
{
    PyObject *traces = call0("_tracemalloc", "_get_traces");
    PyObject *d = traces && PyList_Check(traces) ? PyDict_New() : NULL;
    PyObject *unknown = d ? Py_BuildValue("(si)", "<unknown>", 0) : NULL;
    for (Py_ssize_t i = 0; unknown && i < PyList_GET_SIZE(traces); i++) {
        PyObject *t = PyList_GET_ITEM(traces, i);   /* (domain, size, frames[, total_nframe]) */
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) < 3)
            continue;
        PyObject *frames = PyTuple_GET_ITEM(t, 2);
        PyObject *key = PyTuple_Check(frames) && PyTuple_GET_SIZE(frames) > 0
                            ? PyTuple_GET_ITEM(frames, 0) : unknown;
        if (add_to(d, key, PyTuple_GET_ITEM(t, 1)) < 0)
            Py_CLEAR(d);
    }
    Py_XDECREF(unknown);
    Py_XDECREF(traces);
    PyErr_Clear();
    return d;
}

static void write_site(jsonw *w, PyObject *key)
{
    jsonw_lit(w, "{\"file\":");
    fmt_text_or_null(w, PyTuple_Check(key) && PyTuple_GET_SIZE(key) == 2 ? PyTuple_GET_ITEM(key, 0) : NULL);
    jsonw_lit(w, ",\"line\":");
    if (PyTuple_Check(key) && PyTuple_GET_SIZE(key) == 2)
        fmt_value(w, PyTuple_GET_ITEM(key, 1), 0, 1);
    else
        jsonw_lit(w, "null");
}

static Py_ssize_t row_int(PyObject *row, int i)
{
    return row ? PyLong_AsSsize_t(PyList_GET_ITEM(row, i)) : 0;
}

static int add_row(PyObject *rows, Py_ssize_t dsize, Py_ssize_t dcount, Py_ssize_t size, Py_ssize_t count,
                   PyObject *site)
{
    PyObject *row = Py_BuildValue("(nnnnO)", dsize, dcount, size, count, site);
    int rc = row ? PyList_Append(rows, row) : -1;
    Py_XDECREF(row);
    return rc;
}

/* (size_diff, count_diff, size, count, site) of every site now and (for a
 * diff) every site of before that is gone, largest first, cut to limit;
 * *total: the bytes traced now.  NULL on failure. */
static PyObject *site_rows(PyObject *now, PyObject *before, int limit, Py_ssize_t *total)
{
    PyObject *rows = PyList_New(0), *k, *v;
    Py_ssize_t pos = 0;
    *total = 0;
    while (rows && now && PyDict_Next(now, &pos, &k, &v)) {
        PyObject *was = before ? PyDict_GetItem(before, k) : NULL;
        *total += row_int(v, 0);
        if (add_row(rows, row_int(v, 0) - row_int(was, 0), row_int(v, 1) - row_int(was, 1), row_int(v, 0),
                    row_int(v, 1), k) < 0)
            Py_CLEAR(rows);
    }
    pos = 0;
    while (rows && before && PyDict_Next(before, &pos, &k, &v))   /* sites freed since */
        if (!(now && PyDict_GetItem(now, k)) && add_row(rows, -row_int(v, 0), -row_int(v, 1), 0, 0, k) < 0)
            Py_CLEAR(rows);
    if (rows && sort_desc(rows, limit) < 0)
        Py_CLEAR(rows);
    PyErr_Clear();
    return rows;
}

/* `,"top":[...]` (before == NULL) or `,"diff":[...]` against before. */
static void write_sites(jsonw *w, PyObject *now, PyObject *before, int limit)
{
    Py_ssize_t total;
    PyObject *rows = site_rows(now, before, limit, &total);
    if (!rows)
        return;
    jsonw_lit(w, ",\"traced_size\":");
    jsonw_i64(w, total);
    jsonw_lit(w, ",\"sites\":");
    jsonw_i64(w, now ? (int64_t)PyDict_Size(now) : 0);
    if (before)
        jsonw_lit(w, ",\"diff\":[");
    else
        jsonw_lit(w, ",\"top\":[");
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(rows); i++) {
        PyObject *row = PyList_GET_ITEM(rows, i);
        if (i) jsonw_char(w, ',');
        write_site(w, PyTuple_GET_ITEM(row, 4));
        if (before) {
            jsonw_lit(w, ",\"size_diff\":");
            fmt_value(w, PyTuple_GET_ITEM(row, 0), 0, 1);
            jsonw_lit(w, ",\"count_diff\":");
            fmt_value(w, PyTuple_GET_ITEM(row, 1), 0, 1);
        }
        jsonw_lit(w, ",\"size\":");
        fmt_value(w, PyTuple_GET_ITEM(row, 2), 0, 1);
        jsonw_lit(w, ",\"count\":");
        fmt_value(w, PyTuple_GET_ITEM(row, 3), 0, 1);
        jsonw_char(w, '}');
    }
    jsonw_char(w, ']');
    Py_DECREF(rows);
}

static void emit_snapshot(probe *p, const char *at)
{
    snap_state *s = p->snap;
    jsonw *w = snap_begin(p, at);
    if (!w)
        return;
    write_sizes(w);
    write_gc(w, s->action == SA_GC);
    if (s->action == SA_OVERVIEW)
        write_types(w, s->limit);
    write_tracemalloc(w);
    snap_finish(p, w, at);
}

int memory_start(probe *p, char *err, size_t errlen)
{
    snap_state *s = p->snap;
    if (s->action == SA_OVERVIEW || s->action == SA_GC) {
        emit_snapshot(p, s->ended ? "end" : "start");   /* launch mode: at the end */
        return 0;
    }
    if (!tm_users && !tracing()) {
        PyObject *r = call0("_tracemalloc", "start");
        if (!r) {
            snprintf(err, errlen, "probe %d: memory --action %s: cannot start tracemalloc", p->id,
                     s->action == SA_TOP ? "top" : "diff");
            return -1;
        }
        Py_DECREF(r);
        tm_started = 1;
    }
    tm_users++;
    s->started_tracing = 1;   /* this probe holds it */
    if (s->action == SA_DIFF) {
        int64_t vms;
        read_statm(&s->rss0, &vms);
        s->first = sites();
    }
    return 0;
}

void memory_end(probe *p, int emit)
{
    snap_state *s = p->snap;
    if (emit && (s->action == SA_TOP || s->action == SA_DIFF)) {
        jsonw *w = snap_begin(p, "end");
        if (w) {
            PyObject *now = sites();
            write_sizes(w);
            if (s->action == SA_DIFF) {
                jsonw_lit(w, ",\"rss_start\":");
                jsonw_i64(w, s->rss0);
            }
            write_tracemalloc(w);
            PyObject *before = s->action != SA_DIFF ? NULL : s->first ? (Py_INCREF(s->first), s->first)
                                                                      : PyDict_New();
            write_sites(w, now, before, s->limit);
            Py_XDECREF(before);
            Py_XDECREF(now);
            snap_finish(p, w, "end");
        }
    }
    if (s->started_tracing && --tm_users == 0 && tm_started) {
        PyObject *r = call0("_tracemalloc", "stop");
        Py_XDECREF(r);
        tm_started = 0;
    }
    s->started_tracing = 0;
    Py_CLEAR(s->first);
}
