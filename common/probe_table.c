/* Every kind of probe and its options (probe_table.h). */
#include "probe_table.h"

#include <math.h>
#include <string.h>

#define NOLIMIT HUGE_VAL

/* Options more than one kind shares, word for word. */
#define OPT_TIMES {"--times", "-n", PT_COUNT, "times", NULL, -1, 0, 0, NULL, "N", "a count", \
                   "stop this probe after N observations (-1: no limit)"}
#define OPT_CONDITION {"--condition", NULL, PT_TEXT, "condition", NULL, 0, 0, 0, NULL, "EXPR", NULL, \
                       "record only calls where EXPR holds (docs/conditions.md)"}
#define OPT_REDACT {"--redact", NULL, PT_RULES, "redact", NULL, 0, 0, 0, NULL, "REGEX", NULL, \
                    "one more redaction rule for this probe (see --redact\nbelow)"}
#define OPT_MAX_ITEMS {"--max-items", NULL, PT_INT, "max_items", NULL, 20, 1, 1000, NULL, "N", "a count", \
                       "items of a list, tuple, dict or set shown"}
#define OPT_MAX_ATTRS {"--max-attrs", NULL, PT_INT, "max_attrs", NULL, 10, 1, 1000, NULL, "N", "a count", \
                       "attributes of an object shown"}
#define OPT_MAX_STRING {"--max-string", NULL, PT_INT, "max_string", NULL, 1000, 1, 1048576, NULL, "N", \
                        "a count", "characters of a string shown"}
#define OPT_REPR {"--repr", NULL, PT_FLAG, "repr", NULL, 0, 0, 0, NULL, NULL, NULL, \
                  "at the depth limit, show repr() (runs the program's\n__repr__; off: type and length only, no program code)"}

/* -b/-s/-e/-f: the command line starts with none; peeka-rec turns "none"
 * into -f and -f into both exits (options.c), so the request always says;
 * a request without them gets both exits, as -f. */
static const pt_option watch_opts[] = {
    {"--depth", "-x", PT_INT, "depth", NULL, 2, 1, 16, NULL, "N", "a depth",
     "formatting depth of arguments and results"},
    OPT_TIMES,
    OPT_CONDITION,
    {"--before", "-b", PT_FLAG, "at_enter", NULL, 0, 0, 0, NULL, NULL, NULL, "record at entry"},
    {"--success", "-s", PT_FLAG, "at_success", NULL, 1, 0, 0, NULL, NULL, NULL, "record on success"},
    {"--exception", "-e", PT_FLAG, "at_exception", NULL, 1, 0, 0, NULL, NULL, NULL, "record on exception"},
    {"--finish", "-f", PT_FLAG, NULL, NULL, 0, 0, 0, NULL, NULL, NULL,
     "record on success and on exception (the default)"},
    {"--record", NULL, PT_EXPRS, "record", NULL, 0, 0, 0, NULL, "EXPR", NULL,
     "record EXPR's value (or {a, b, ...}'s values) as\n`record`, instead of params and returnObj"},
    OPT_MAX_ITEMS,
    OPT_MAX_ATTRS,
    OPT_MAX_STRING,
    OPT_REPR,
    OPT_REDACT,
};

static const pt_option trace_opts[] = {
    {"--depth", "-d", PT_INT, "max_depth", "depth", 3, 1, 64, NULL, "N", "a depth",
     "levels below the traced function\n(after a trace probe -d is its depth: give the\nrecording's duration before it)"},
    OPT_TIMES,
    OPT_CONDITION,
    {"--skip-builtin", NULL, PT_FLAG, "skip_builtin", NULL, 0, 0, 0, NULL, NULL, NULL, "no nodes for C functions"},
    {"--min-duration", NULL, PT_NUM, "min_duration_ms", NULL, 0, 0, NOLIMIT, NULL, "MS", "milliseconds",
     "keep only trees whose call took at least MS"},
    {"--fold-below", NULL, PT_NUM, "fold_below_ms", NULL, 0, 0, NOLIMIT, NULL, "MS", "milliseconds",
     "fold nodes that took less than MS in all into their\nparent's self time (counted in its `folded`)"},
    OPT_REDACT,
};

static const pt_option stack_opts[] = {
    OPT_TIMES,
    OPT_CONDITION,
    {"--depth", NULL, PT_INT, "max_depth", "depth", 10, 1, 256, NULL, "N", "a depth",
     "frames recorded, innermost first"},
    OPT_MAX_ITEMS,
    OPT_MAX_ATTRS,
    OPT_MAX_STRING,
    OPT_REPR,
    OPT_REDACT,
};

static const pt_option monitor_opts[] = {
    {"--interval", NULL, PT_NUM, "interval_s", NULL, 60, 0.01, 86400, NULL, "SECONDS", "seconds",
     "length of one interval"},
    {"--cycles", "-c", PT_COUNT, "times", "cycles", -1, 0, 0, NULL, "N", "a count",
     "stop this probe after N intervals (-1: no limit)"},
    {"--redact", NULL, PT_REFUSED, NULL, NULL, 0, 0, 0, NULL, "REGEX", NULL,
     "--redact does not apply to monitor: its records hold no argument values (it does to "
     "watch, trace and stack)"},
};

/* -c counts snapshots; peeka-rec makes it 1 when --interval is 0. */
static const pt_option thread_opts[] = {
    {"--tid", NULL, PT_INT, "tid", NULL, 0, 0, 1e15, NULL, "N", "a thread id",
     "only the thread whose thread_id or native_id is N"},
    {"--state", NULL, PT_CHOICE, "state", NULL, 0, 0, 0, "any|running|lock|syscall|idle", "S", NULL,
     "only threads in state S"},
    {"--sort-by", NULL, PT_CHOICE, "sort_by", NULL, 0, 0, 0, "tid|name|state|depth", "F", NULL,
     "the order of the threads in a snapshot"},
    {"--depth", NULL, PT_INT, "max_depth", "depth", 50, 1, 256, NULL, "N", "a depth",
     "frames recorded per thread, innermost first"},
    {"--interval", NULL, PT_NUM, "interval_s", NULL, 0, 0, 86400, NULL, "SECONDS", "seconds",
     "one snapshot every SECONDS (0: one snapshot, then\nthe probe is done)"},
    {"--cycles", "-c", PT_COUNT, "times", "cycles", -1, 0, 0, NULL, "N", "a count",
     "stop this probe after N snapshots (-1: no limit)"},
    {"--wait", NULL, PT_NUM, "wait_s", NULL, 1, 0.01, 60, NULL, "SECONDS", "seconds",
     "the longest a snapshot waits for the GIL\n(then it records which thread holds it)"},
};

static const pt_option top_opts[] = {
    {"--interval", "-i", PT_NUM, "interval_s", NULL, 0.01, 0.001, 60, NULL, "SECONDS", "seconds",
     "one sample of every thread's stack every SECONDS"},
    {"--sort", NULL, PT_CHOICE, "sort", NULL, 0, 0, 0, "own|total", "F", NULL,
     "the report's order: own or total samples"},
    {"--depth", NULL, PT_INT, "max_depth", "depth", 64, 1, 256, NULL, "N", "a depth",
     "frames kept per sample, innermost first"},
    {"--cycles", "-c", PT_COUNT, "times", "cycles", -1, 0, 0, NULL, "N", "a count",
     "stop this probe after N samples, one per thread\nsampled (-1: no limit)"},
    {"--idle", NULL, PT_FLAG, "idle", NULL, 0, 0, 0, NULL, NULL, NULL,
     "sample threads that used no CPU since the last sample too"},
    {"--outside", NULL, PT_FLAG, "outside", NULL, 0, 0, 0, NULL, NULL, NULL,
     "sample from outside the process (CPython 3.13+): no agent,\nno GIL taken; the only probe, with -p"},
};

/* The snapshot probes (agent/interp_probes.h).  They observe the interpreter,
 * not calls: one snapshot (the recording ends when each has its one
 * record), or a change that lasts as long as the recording (logger set,
 * --capture, memory top and diff: probe_snapshot.h). */
#define OPT_LIMIT(d) {"--limit", NULL, PT_INT, "limit", NULL, d, 1, 10000, NULL, "N", "a count", \
                      "rows or entries shown at most"}

static const pt_option memory_opts[] = {
    {"--action", NULL, PT_CHOICE, "action", NULL, 0, 0, 0, "overview|gc|top|diff", "ACTION", NULL,
     "what to record\noverview: rss, vms, gc counts, objects by type; gc: the\ncollector's statistics; top, diff: tracemalloc's largest\n"
     "allocation sites at the end, or their growth since the start\n(tracemalloc runs for the recording if it was off)"},
    OPT_LIMIT(20),
};

static const pt_option logger_opts[] = {
    {"--action", NULL, PT_CHOICE, "action", NULL, 0, 0, 0, "list|get|set", "ACTION", NULL,
     "what to do\nlist every logger, get one, or set one's level for the\nrecording (the old level is back at its end)"},
    {"--name", NULL, PT_TEXT, "name", NULL, 0, 0, 0, NULL, "NAME", NULL, "the logger (default: the root logger)"},
    {"--level", NULL, PT_TEXT, "level", NULL, 0, 0, 0, NULL, "LEVEL", NULL,
     "DEBUG, INFO, WARNING, ERROR, CRITICAL or a number: set's\nlevel, --capture's lowest"},
    {"--capture", NULL, PT_FLAG, "capture", NULL, 0, 0, 0, NULL, NULL, NULL,
     "record the log records --name and its children make while\nrecording (no handler, level or propagation changes)"},
    OPT_TIMES,
    OPT_MAX_STRING,
    OPT_REDACT,
};

static const pt_option inspect_opts[] = {
    {"--target", NULL, PT_TEXT, "target", NULL, 0, 0, 0, NULL, "EXPR", NULL,
     "module.name.attr...: a value read from namespaces (__dict__,\nslots, dict keys), no property or __getattr__ run"},
    {"--action", NULL, PT_CHOICE, "action", NULL, 0, 0, 0, "get|count|instances", "ACTION", NULL,
     "what to read\nget --target's value, or count (and show) the live objects\nof --type"},
    {"--type", NULL, PT_TEXT, "type", NULL, 0, 0, 0, NULL, "TYPE", NULL,
     "a class, module.Qualname or Qualname, globs allowed"},
    {"--depth", "-x", PT_INT, "depth", NULL, 2, 1, 16, NULL, "N", "a depth", "formatting depth of values"},
    OPT_LIMIT(10),
    OPT_MAX_ITEMS,
    OPT_MAX_ATTRS,
    OPT_MAX_STRING,
    OPT_REDACT,
};

static const pt_option sc_opts[] = {
    OPT_LIMIT(100),
};

/* sm's METHOD_PATTERN is its --method (options.c takes a second word) */
static const pt_option sm_opts[] = {
    {"--method", NULL, PT_TEXT, "method", NULL, 0, 0, 0, NULL, "GLOB", NULL,
     "only methods matching GLOB (default *: _names only when it\nstarts with _)"},
    OPT_LIMIT(100),
};

#define KIND(n, k, operand, help, cycles, opts) \
    {n, k, operand, help, cycles, opts, (int)(sizeof opts / sizeof opts[0])}

const pt_kind pt_kinds[] = {
    KIND("watch", PK_WATCH, "PATTERN",
         "PATTERN: module.function, module.Class.method, globs (app.views.*);\n"
         "each call's arguments, result or exception and cost", 0, watch_opts),
    KIND("trace", PK_TRACE, "PATTERN",
         "one call tree per call: every function called beneath it, this thread only", 0, trace_opts),
    KIND("stack", PK_STACK, "PATTERN", "the Python call stack at entry", 0, stack_opts),
    KIND("monitor", PK_MONITOR, "PATTERN",
         "per function every interval: calls, failures, rt avg/min/max,\n"
         "p50/p95/p99, counted in the agent without a record per call", 1, monitor_opts),
    KIND("thread", PK_THREAD, NULL,
         "every thread: ids, name, daemon, state (running, lock, syscall, idle)\n"
         "and its Python stack (py-spy dump); alone, one snapshot and detach", 1, thread_opts),
    KIND("top", PK_TOP, NULL,
         "samples every thread's Python stack each interval: per function own\n"
         "and total samples (peeka-analyze top, collapsed)", 0, top_opts),
    KIND("memory", PK_MEMORY, NULL, "the process's memory: one snapshot, or tracemalloc over the recording", 0,
         memory_opts),
    KIND("logger", PK_LOGGER, NULL, "logging's loggers and levels; --capture records the log records", 0,
         logger_opts),
    KIND("inspect", PK_INSPECT, NULL, "a module-level value, or the live instances of a class", 0, inspect_opts),
    KIND("sc", PK_SC, "PATTERN",
         "loaded classes matching a glob on module.Qualname: file, line,\nbases (nothing is imported)", 0, sc_opts),
    KIND("sm", PK_SM, "CLASS_PATTERN",
         "the methods of matching classes, with their kind, signature,\nfile and line; `sm CLASS_PATTERN METHOD_PATTERN` is --method", 0,
         sm_opts),
};
const int pt_nkinds = (int)(sizeof pt_kinds / sizeof pt_kinds[0]);

_Static_assert(sizeof watch_opts / sizeof watch_opts[0] <= PT_MAX_OPTS, "PT_MAX_OPTS");
_Static_assert(sizeof trace_opts / sizeof trace_opts[0] <= PT_MAX_OPTS, "PT_MAX_OPTS");
_Static_assert(sizeof stack_opts / sizeof stack_opts[0] <= PT_MAX_OPTS, "PT_MAX_OPTS");
_Static_assert(sizeof monitor_opts / sizeof monitor_opts[0] <= PT_MAX_OPTS, "PT_MAX_OPTS");
_Static_assert(sizeof inspect_opts / sizeof inspect_opts[0] <= PT_MAX_OPTS, "PT_MAX_OPTS");
_Static_assert(sizeof logger_opts / sizeof logger_opts[0] <= PT_MAX_OPTS, "PT_MAX_OPTS");
_Static_assert(sizeof thread_opts / sizeof thread_opts[0] <= PT_MAX_OPTS, "PT_MAX_OPTS");
_Static_assert(sizeof top_opts / sizeof top_opts[0] <= PT_MAX_OPTS, "PT_MAX_OPTS");

const pt_kind *pt_kind_named(const char *name)
{
    for (int i = 0; i < pt_nkinds; i++)
        if (!strcmp(pt_kinds[i].name, name))
            return &pt_kinds[i];
    return NULL;
}

const pt_kind *pt_kind_of(int kind)
{
    for (int i = 0; i < pt_nkinds; i++)
        if ((int)pt_kinds[i].kind == kind)
            return &pt_kinds[i];
    return NULL;
}

int pt_option_index(const pt_kind *k, const char *word)
{
    for (int i = 0; i < k->nopts; i++)
        if (!strcmp(k->opts[i].name, word) || (k->opts[i].alias && !strcmp(k->opts[i].alias, word)))
            return i;
    return -1;
}

int pt_key_index(const pt_kind *k, const char *key)
{
    for (int i = 0; i < k->nopts; i++)
        if (k->opts[i].key && !strcmp(k->opts[i].key, key))
            return i;
    return -1;
}

int pt_takes_value(const pt_option *o)
{
    return o->type != PT_FLAG;
}

const char *pt_kind_names(void)
{
    static char buf[256];
    if (!buf[0])
        for (int i = 0; i < pt_nkinds; i++) {
            size_t n = strlen(buf);
            snprintf(buf + n, sizeof buf - n, "%s%s", i ? ", " : "", pt_kinds[i].name);
        }
    return buf;
}

/* Text with '\n' continuation lines, each indented by `indent`. */
static void put_lines(FILE *out, const char *s, int indent)
{
    for (const char *nl; (nl = strchr(s, '\n')); s = nl + 1)
        fprintf(out, "%.*s\n%*s", (int)(nl - s), s, indent, "");
    fprintf(out, "%s", s);
}

static int put_word(FILE *out, int col, const char *w)
{
    int len = (int)strlen(w);
    if (col + 1 + len > 78) {
        fprintf(out, "\n       ");
        col = 7;
    }
    fprintf(out, " %s", w);
    return col + 1 + len;
}

static void synopsis(FILE *out, const pt_kind *k)
{
    int col = fprintf(out, "  %s", k->name);
    if (k->operand)
        col = put_word(out, col, k->operand);
    for (int i = 0; i < k->nopts; i++) {
        const pt_option *o = &k->opts[i];
        char w[64];
        if (o->type == PT_REFUSED)
            continue;
        snprintf(w, sizeof w, "[%s%s%s]", o->alias ? o->alias : o->name,
                 pt_takes_value(o) ? " " : "", pt_takes_value(o) ? o->metavar : "");
        col = put_word(out, col, w);
    }
    fputc('\n', out);
}

static void option_help(FILE *out, const pt_option *o)
{
    char left[64];
    snprintf(left, sizeof left, "%s%s%s%s%s", o->alias ? o->alias : "", o->alias ? ", " : "",
             o->name, pt_takes_value(o) ? " " : "", pt_takes_value(o) ? o->metavar : "");
    int n = fprintf(out, "      %s", left);
    if (n < 24) /* two spaces at least: help2man-like readers (mk/man.py) split there */
        fprintf(out, "%*s", 25 - n, "");
    else
        fprintf(out, "\n%25s", "");
    /* the default ends the first line, where the eye looks for it */
    const char *nl = strchr(o->help, '\n');
    fprintf(out, "%.*s", nl ? (int)(nl - o->help) : (int)strlen(o->help), o->help);
    if ((o->type == PT_INT || o->type == PT_NUM) && o->dflt != 0)
        fprintf(out, " (%.15g)", o->dflt);
    else if (o->type == PT_CHOICE)
        fprintf(out, " (%s)", o->choices);
    if (nl)
        fprintf(out, "\n%25s", "");
    put_lines(out, nl ? nl + 1 : "", 25);
    fputc('\n', out);
}

void pt_usage(FILE *out)
{
    for (int i = 0; i < pt_nkinds; i++) {
        const pt_kind *k = &pt_kinds[i];
        synopsis(out, k);
        fprintf(out, "      ");
        put_lines(out, k->help, 6);
        fputc('\n', out);
        for (int j = 0; j < k->nopts; j++)
            if (k->opts[j].type != PT_REFUSED)
                option_help(out, &k->opts[j]);
    }
}

static const char *type_name(pt_type t)
{
    static const char *const names[] = {[PT_FLAG] = "flag", [PT_INT] = "int", [PT_COUNT] = "count",
                                        [PT_NUM] = "number", [PT_TEXT] = "text", [PT_CHOICE] = "choice",
                                        [PT_RULES] = "rules", [PT_EXPRS] = "exprs",
                                        [PT_REFUSED] = "refused"};
    return names[t];
}

void pt_list_options(FILE *out)
{
    for (int i = 0; i < pt_nkinds; i++)
        for (int j = 0; j < pt_kinds[i].nopts; j++) {
            const pt_option *o = &pt_kinds[i].opts[j];
            fprintf(out, "%s\t%s\t%s\t%s\t%s\t%.15g\t%.15g\t%.15g\t%s\n", pt_kinds[i].name, o->name,
                    o->alias ? o->alias : "", type_name(o->type), o->key ? o->key : "", o->dflt,
                    o->lo, o->hi, pt_kinds[i].operand ? pt_kinds[i].operand : "");
        }
}
