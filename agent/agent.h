/* State shared by the agent's files.  Everything here is touched only with
 * the GIL held, unless marked "agent thread" or atomic. */
#ifndef PEEKA_AGENT_H
#define PEEKA_AGENT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdatomic.h>
#include <stdint.h>

#include "jsonw.h"
#include "peeka_limits.h"
#include "probe_table.h"   /* enum probe_kind */
#include "ring.h"
#include "segments.h"

struct peeka_cond;
struct redactor;

/* Peeka's formatting limits (docs/format.md "Value formatting"). */
#define FMT_STRING 1000
#define FMT_ITEMS  20
#define FMT_ATTRS  10

/* How a probe formats values: its limits (--max-string, --max-items,
 * --max-attrs) and its redaction rules (redactor.h), NULL for none. */
typedef struct fmt_opts {
    int max_string, max_items, max_attrs;
    int repr;                   /* --repr: repr() at the depth limit, contained */
    struct redactor *redact;
} fmt_opts;


#define MAX_PROBES 64
#define MAX_PROBES_PER_FUNC 8
#define RECORD_LIMIT PEEKA_RECORD_MAX   /* common/limits.h */

typedef struct probe {
    int id;
    int kind;
    char *pattern;
    int depth;
    int64_t times;              /* -1: unlimited */
    int at_enter, at_success, at_exception;
    struct peeka_cond *cond;
    int64_t observations, drops, cond_errors, seq;
    int done;                   /* reached `times`: emits nothing more */
    int pending;                /* some module it names is not imported yet */
    int glob;                   /* keeps matching modules imported later */
    int lenient;                /* launch mode: an unknown module may appear later */
    PyObject *installed;        /* list of "module.Qualname" it hooked */
    PyObject *searched;         /* a glob that hooked nothing: the module it looked in */
    PyObject *suggest;          /* ... and patterns that would match there (suggest.c) */
    /* trace, stack, monitor (docs/format.md) */
    int max_depth;              /* trace: levels below the root; stack: frames */
    int skip_builtin;           /* trace: no nodes for C functions */
    int64_t min_duration_ns;    /* trace: drop faster trees */
    int64_t fold_below_ns;      /* trace: fold nodes that took less (0: off) */
    int holds_events;           /* 3.12+: holds the sys.monitoring tool (monitoring.h): a
                                   trace probe, a watch probe on an async def */
    int64_t interval_ns;        /* monitor */
    struct monitor_state *mon;  /* monitor: aggregates (monitor.c) */
    /* thread and top (thread_probe.c, top.c), sampled by sampler.c */
    int64_t tid_filter;         /* thread --tid: 0, or a thread_id or native_id */
    char state_filter[16];      /* thread --state: "any" or a state word */
    char sort_by[16];           /* thread --sort-by */
    int64_t wait_ns;            /* thread --wait: for the GIL, before saying who holds it */
    int idle;                   /* top --idle: threads that used no CPU too */
    int64_t cycle;              /* snapshots or samples taken (sampler.c's lock) */
    int64_t next_ns;            /* agent thread: when the next one is due */
    struct top_state *top;      /* top: each thread's CPU time at the last sample */
    fmt_opts fmt;               /* limits and redaction rules of its values */
    struct record_exprs *rec;   /* watch --record (record.h), or NULL */
    struct snap_state *snap;    /* memory, logger, inspect, sc, sm (interp_probes.h) */
    seg_slot head_seg;          /* its records' head up to "seq": (observe.c write_head) */
} probe;

/* One observed function object. */
typedef struct hooked {
    PyObject *func;             /* strong ref */
    vectorcallfunc orig;
    probe *probes[MAX_PROBES_PER_FUNC];
    int nprobes;
    int has_self;               /* args[0] is self/cls, reported as `target` */
    int is_coro;                /* async def: time the awaited result */
    PyObject *async_code;       /* 3.12+: the code object whose events are on for its
                                   watch probes (strong; watch_async_events.c) */
    int async_unwind;           /* 3.12-3.14: counts in the global PY_UNWIND (same file) */
    char *name_json;            /* "module.Qualname" as a JSON string */
    size_t name_json_len;
    PyObject *replacements;     /* 3.13+: what wrapper.c replaced (wrapper.h) */
    int other_kinds;            /* probes that are not watch: the call goes to probe_call */
    /* argnames.c: its positional parameters' names, for redaction and the
     * records' param_names, as of the code object names_code */
    PyObject *names_code;       /* strong; NULL until read */
    PyObject *argnames;         /* tuple of str, self included */
    PyObject *starname;         /* the *args parameter's name, or NULL */
    char *names_json;           /* `,"param_names":[...]` */
    size_t names_json_len;
    unsigned names_gen;         /* changes whenever names_json does */
    /* watch: `,"func_name":…,"location":…,"param_names":…,"params":[` per
     * location (enum where) as a segment, as of names_gen seg_names */
    seg_slot at_seg[3];
    unsigned seg_names;
    int inflight;               /* hook calls holding it (hooks.h: hooked_call_begin) */
    int dead;                   /* unhooked while held: the last one out frees */
} hooked;

typedef struct agent {
    int active;                 /* a recording is attached */
    atomic_int stopping;        /* hooks pass through from now on */
    ring rb;
    int64_t drops;              /* records the ring refused */
    probe *probes[MAX_PROBES];
    int nprobes;
    int64_t emitted;
    int observing;              /* hooks inside observe_enter/observe_leave (observe.h) */
    int lossless;               /* --lossless: a full ring makes the producer wait (emit.c) */
    atomic_int sender_gone;     /* agent thread: nothing will drain the ring any more */
} agent;

extern agent g_agent;

/* pyhelper.c: Python helper objects the agent defines from source, once. */
PyObject *agent_pyhelper(const char *src, const char *name);

/* format.c */
void fmt_value(jsonw *w, PyObject *v, int level, int depth);
/* "module.Qualname" of a type, read without running its code (new ref or NULL) */
PyObject *fmt_type_name(PyTypeObject *t);
void fmt_redacted(jsonw *w);

/* The redaction rules of the record w is writing, or NULL. */
static inline struct redactor *fmt_rules(const jsonw *w)
{
    return w->fmt ? w->fmt->redact : NULL;
}
void fmt_exception(jsonw *w, PyObject *exc);
/* exc_trace.c: ,"throwTrace":[...] (null without an exception) */
void write_throw_trace(jsonw *w, PyObject *exc);
void fmt_text_or_null(jsonw *w, PyObject *s);
int  fmt_qualname(PyObject *func, char **out, size_t *outlen);

/* resolve.c */
int resolve_probe(probe *p, char *err, size_t errlen);
void resolve_module_loaded(PyObject *modname);

/* emit.c */
int  emit_init(void);
void clock_sync(void);
int64_t wall_of_mono(int64_t mono);
void emit_thread_fields(jsonw *w);
int64_t now_mono_ns(void);
void emit_record(probe *p, jsonw *w);
jsonw *thread_writer(void);
int thread_reentered(void);
void thread_set_reentered(int v);
/* This thread's calls that hold h (hooks.h), tracked for emit_after_fork. */
void thread_hold(hooked *h);
void thread_unhold(hooked *h);
/* In a forked child, GIL held: the other threads' state is freed and the
 * holds of their calls, which will never return, are given back. */
void emit_after_fork(void);

#endif
