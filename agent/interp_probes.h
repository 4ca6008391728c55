/* Probes that observe the interpreter rather than calls: memory, logger,
 * inspect, sc and sm (docs/format.md "Snapshot probes").  They hook no
 * function.  Each takes its snapshot when installed (launch mode: when the
 * recording ends, since at install the program has not run yet), and the
 * ones that change something for the recording (logger set and capture,
 * memory top and diff with tracemalloc) undo it when it ends, with a last
 * record where they have one. */
#ifndef PEEKA_INTERP_PROBES_H
#define PEEKA_INTERP_PROBES_H

#include "agent.h"
#include "probe_snapshot.h"   /* and probe_values.h */

enum snap_action {
    SA_NONE, SA_OVERVIEW, SA_GC, SA_TOP, SA_DIFF,        /* memory */
    SA_LIST, SA_GET, SA_SET, SA_CAPTURE,                 /* logger */
    SA_VALUE, SA_COUNT, SA_INSTANCES,                    /* inspect */
};

typedef struct snap_state {
    int action;
    char *name;                 /* logger --name; sm's method pattern; inspect --type */
    char *level;                /* logger --level */
    int limit;                  /* entries of a list shown */
    int started;                /* start() ran: end() and free() have something to undo */
    int ended;
    /* what end() restores or compares against */
    PyObject *logger;           /* logger set: the logger whose level changed */
    PyObject *old_level;        /* logger set: its level before */
    int holds_factory;          /* logger capture: counts in the record factory's users */
    long min_level;             /* logger capture: --level */
    PyObject *first;            /* memory diff: the snapshot at the start */
    int started_tracing;        /* memory top/diff: holds tracemalloc (probe_memory.c) */
    int64_t rss0;               /* memory diff: rss at the start, bytes */
} snap_state;

static inline int is_snapshot_kind(int kind)
{
    return pt_is_snapshot(kind);
}

/* install: the probe's options (checked by the table); 0, or -1 with err. */
int snap_probe_init(probe *p, const pt_values *v, char *err, size_t errlen);
/* install, GIL held: takes the first snapshot or makes the change; -1 with
 * err refuses the install (attach mode: a typo is exit 3, not a record). */
int snap_probe_start(probe *p, char *err, size_t errlen);
/* The recording ends (GIL held): last records, then every change undone. */
void snap_probes_end(void);
/* probes_retire: undoes what is still changed, emits nothing, frees. */
void snap_probe_free(probe *p);

/* For the kinds' files (interp_probes.c). */
static inline void snap_bool(jsonw *w, const char *key, int v)
{
    jsonw_key(w, key, 0);
    if (v)
        jsonw_lit(w, "true");
    else
        jsonw_lit(w, "false");
}
jsonw *snap_begin(probe *p, const char *at);      /* head of a record */
void snap_finish(probe *p, jsonw *w, const char *at);   /* closes and emits it */
void snap_write_error(probe *p, const char *at, const char *msg);
int snap_time_is_end(const probe *p);             /* launch mode: snapshot at the end */
PyObject *snap_import(const char *name);          /* an already imported module, or NULL */
/* name from obj's own namespace (a module's, a class's or an instance's
 * __dict__), read without running any descriptor or __getattr__: a new
 * reference, or NULL (no error set). */
PyObject *snap_own_attr(PyObject *obj, const char *name);
/* name from the __dict__ of t or a class of its MRO, as snap_own_attr. */
PyObject *snap_class_attr(PyTypeObject *t, const char *name);

/* probe_memory.c, probe_logger.c, probe_logcapture.c, probe_inspect.c, probe_search.c */
int  memory_start(probe *p, char *err, size_t errlen);
void memory_end(probe *p, int emit);
int  logger_start(probe *p, char *err, size_t errlen);
void logger_end(probe *p, int emit);
PyObject *logger_find(PyObject *logging, const char *name);   /* never creates one */
PyObject *logger_level(PyObject *logging, const char *level);  /* --level as an int */
int logger_call(PyObject *logging, const char *method, PyObject *logger, PyObject *arg);
int  logcapture_start(probe *p, char *err, size_t errlen);
void logcapture_end(probe *p);
int  inspect_start(probe *p, char *err, size_t errlen);
int  search_start(probe *p, char *err, size_t errlen);

#endif
