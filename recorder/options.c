/* peeka-rec [OPTIONS] PROBE... [-- CMD ARGS...]
 * A probe is a Peeka command and its own options, e.g.
 *   watch app.views.checkout -x 3 -n 100 --condition 'cost > 50'
 * given inline, with --probe 'SPEC', or one per line in --probe-file. */
#include "options.h"
#include "duration.h"
#include "record_expr.h"
#include "pattern.h"
#include "pyversions.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORDS 64

void options_usage(FILE *out)
{
    fputs(
"usage: peeka-rec -p PID [OPTIONS] PROBE...\n"
"       peeka-rec [OPTIONS] PROBE... -- python3 app.py [ARGS...]\n"
"\n"
"Records calls of chosen functions in a live CPython process (" PEEKA_PY_RANGE ") into\n"
"a .tar.zst archive, then detaches and leaves the process as it was.\n"
"\n"
"Probes (Peeka's commands):\n"
"  watch PATTERN [-x DEPTH] [-n TIMES] [--condition EXPR] [-b] [-s] [-e] [-f]\n"
"        [--record EXPR] [--max-items N] [--max-attrs N] [--max-string N] [--repr]\n"
"      PATTERN: module.function, module.Class.method, globs (app.views.*)\n"
"      -x, --depth N      formatting depth of arguments and results (2)\n"
"      -n, --times N      stop this probe after N observations (-1: no limit)\n"
"      --condition EXPR   record only calls where EXPR holds (docs/conditions.md)\n"
"      -b / -s / -e / -f  at entry / on success / on exception / both (default -f)\n"
"      --record EXPR      record EXPR's value (or {a, b, ...}'s values) as\n"
"                         `record`, instead of params and returnObj\n"
"      --max-items N      items of a list, tuple, dict or set shown (20)\n"
"      --max-attrs N      attributes of an object shown (10)\n"
"      --max-string N     characters of a string shown (1000)\n"
"      --repr             at the depth limit, show repr() (runs the program's\n"
"                         __repr__; off: type and length only, no program code)\n"
"      --redact REGEX     one more redaction rule for this probe (watch, trace,\n"
"                         stack; see --redact below)\n"
"  trace PATTERN [-d DEPTH] [-n TIMES] [--condition EXPR] [--skip-builtin]\n"
"        [--min-duration MS] [--fold-below MS]\n"
"      one call tree per call: every function called beneath it, this thread only\n"
"      -d, --depth N      levels below the traced function (3); after a trace\n"
"                         probe -d is its depth: give the duration before it\n"
"      --skip-builtin     no nodes for C functions\n"
"      --min-duration MS  keep only trees whose call took at least MS\n"
"      --fold-below MS    fold nodes that took less than MS in all into their\n"
"                         parent's self time (counted in its `folded`)\n"
"  stack PATTERN [-n TIMES] [--condition EXPR] [--depth N] [--max-items N]\n"
"        [--max-attrs N] [--max-string N] [--repr]\n"
"      the Python call stack at entry, innermost first, N frames (10)\n"
"  monitor PATTERN [--interval SECONDS] [-c CYCLES]\n"
"      per function every interval (60 s): calls, failures, rt avg/min/max,\n"
"      p50/p95/p99; -c stops the probe after that many intervals\n"
"\n"
"Options:\n"
"  -p, --pid PID          attach to a running process\n"
"  -d, --duration TIME    stop after TIME (30, 30s, 5m, 1h); default: until\n"
"                         every probe has its -n, the target exits, or SIGINT\n"
"  -o, --output FILE      archive path; strftime fields and {pid} expand\n"
"                         (default peeka-{pid}-%Y%m%d-%H%M%S.tar.zst); '-' writes\n"
"                         JSONL observations to stdout instead\n"
"      --probe SPEC       a probe as one string (repeatable)\n"
"      --probe-file FILE  probes, one per line (# comments)\n"
"  -q, --quiet            no progress, only errors\n"
"      --buffer SIZE      agent ring buffer (default 4M)\n"
"      --lossless         never drop a record: a call that finds the agent's\n"
"                         buffer full waits until it has room (CI, benchmarks)\n"
"      --level N          zstd level (default 1: on records, faster and smaller\n"
"                         than 3; see docs/architecture.md)\n"
"      --timeout TIME     how long to wait for the agent (default 10s)\n"
"      --via ROUTE        how to get into a running process: auto (default: PEP 768\n"
"                         remote-exec on CPython 3.14+, else ptrace), remote-exec,\n"
"                         ptrace, gdb\n"
"      --mode MODE        the archive's permissions, octal (default 0600; 0600\n"
"                         plus any of 0060 and 0004, e.g. 0640)\n"
"      --redact REGEX     write \"[redacted]\" for values whose key, parameter or\n"
"                         attribute name matches REGEX (POSIX extended, any case,\n"
"                         anywhere in the name; repeatable; before the probes)\n"
"      --no-default-redact  drop the built-in rule\n"
"                         " PEEKA_REDACT_DEFAULT "\n"
"  -h, --help             this help;  -V, --version: the version\n"
"\n"
"Examples:\n"
"  peeka-rec -p \"$(pgrep -o -f gunicorn)\" -d 60 -o '/var/log/peeka/%Y%m%d-%H%M.tar.zst' \\\n"
"      watch app.views.checkout\n"
"  peeka-rec -d 5m watch 'app.core.*' -n 1000 -- python3 -m pytest tests/\n"
"  peeka-rec -p 4242 -o - watch app.cart.Cart.total --condition 'cost > 50' | jq .cost\n"
"\n"
"Exit codes: 0 ok, 2 usage, 3 probe error, 4 target exited (archive complete),\n"
"5 write error, 6 agent lost, 7 agent protocol error, 10-19 attach errors\n"
"(see README).  In launch mode, the program's own exit status (128+N if\n"
"signal N killed it); SIGINT, SIGTERM and SIGHUP are passed on to it, and it\n"
"runs to its end even when the agent cannot be loaded.\n", out);
}

/* Shell-like words: whitespace separates, '...' and "..." group, \\ escapes. */
static int split_words(const char *s, char **words, int max, char *err, size_t errlen)
{
    int n = 0;
    while (*s) {
        while (*s == ' ' || *s == '\t') s++;
        if (!*s) break;
        if (n == max) { snprintf(err, errlen, "too many words in probe: %s", s); goto fail; }
        char *w = malloc(strlen(s) + 1), *o = w;
        if (!w) { snprintf(err, errlen, "out of memory"); goto fail; }
        char q = 0;
        for (; *s && (q || (*s != ' ' && *s != '\t')); s++) {
            if (q) {
                if (*s == q) q = 0;
                else *o++ = *s;
            } else if (*s == '\'' || *s == '"') {
                q = *s;
            } else if (*s == '\\' && s[1]) {
                *o++ = *++s;
            } else {
                *o++ = *s;
            }
        }
        *o = 0;
        words[n++] = w;
        if (q) { snprintf(err, errlen, "unterminated quote in probe"); goto fail; }
    }
    return n;
fail:
    while (n > 0) free(words[--n]);
    return -1;
}

static int is_probe_kind(const char *w)
{
    return !strcmp(w, "watch") || !strcmp(w, "trace") || !strcmp(w, "stack") || !strcmp(w, "monitor");
}

static int in_list(const char *w, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(w, *list)) return 1;
    return 0;
}

/* -1: not an option of this kind of probe; 0: a flag; 1: takes a value */
static int probe_opt_arity(const char *kind, const char *w)
{
    static const char *const watch_v[] = {"-x", "--depth", "-n", "--times", "--condition", "--redact",
                                          "--record", "--max-items", "--max-attrs", "--max-string", NULL};
    static const char *const watch_f[] = {"-b", "--before", "-s", "--success", "-e", "--exception",
                                          "-f", "--finish", "--repr", NULL};
    static const char *const trace_v[] = {"-d", "--depth", "-n", "--times", "--condition",
                                          "--min-duration", "--fold-below", "--redact", NULL};
    static const char *const trace_f[] = {"--skip-builtin", NULL};
    static const char *const stack_v[] = {"--depth", "-n", "--times", "--condition", "--redact",
                                          "--max-items", "--max-attrs", "--max-string", NULL};
    /* --redact is taken only to be refused with a reason */
    static const char *const monitor_v[] = {"--interval", "-c", "--cycles", "--redact", NULL};
    static const char *const stack_f[] = {"--repr", NULL};
    static const char *const none[] = {NULL};
    const char *const *v = watch_v, *const *f = watch_f;
    if (!strcmp(kind, "trace")) { v = trace_v; f = trace_f; }
    else if (!strcmp(kind, "stack")) { v = stack_v; f = stack_f; }
    else if (!strcmp(kind, "monitor")) { v = monitor_v; f = none; }
    return in_list(w, v) ? 1 : in_list(w, f) ? 0 : -1;
}

static int parse_num(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v != v)
        return -1;
    *out = v;
    return 0;
}

static int parse_int(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

static char *join_words(char **w, int n)
{
    size_t len = 1;
    for (int i = 0; i < n; i++) len += strlen(w[i]) + 3;
    char *s = malloc(len);
    if (!s) return NULL;
    s[0] = 0;
    for (int i = 0; i < n; i++) {
        if (i) strcat(s, " ");
        int quote = strpbrk(w[i], " \t'\"") != NULL;
        if (quote) strcat(s, "'");
        strcat(s, w[i]);
        if (quote) strcat(s, "'");
    }
    return s;
}

/* A rule is compiled here, before the target is touched, so a typo is a
 * usage error and not a failed install. */
static int check_rule(const char *opt, const char *rule, char *err, size_t errlen)
{
    peeka_redact r;
    peeka_redact_init(&r);
    char why[400];
    int rc = peeka_redact_add(&r, rule, why, sizeof why);
    peeka_redact_free(&r);
    if (rc < 0)
        snprintf(err, errlen, "%s: %s", opt, why);
    return rc;
}

int options_redact_rules(const rec_options *o, const probe_spec *p, const char **out, int max)
{
    int n = 0;
    if (o->default_redact && n < max)
        out[n++] = PEEKA_REDACT_DEFAULT;
    for (int i = 0; i < o->nredact && n < max; i++)
        out[n++] = o->redact[i];
    for (int i = 0; p && i < p->nredact && n < max; i++)
        out[n++] = p->redact[i];
    return n;
}

/* The agent compiles every rule of a probe into one set. */
static int check_rule_count(const rec_options *o, const probe_spec *p, char *err, size_t errlen)
{
    int n = (o->default_redact ? 1 : 0) + o->nredact + (p ? p->nredact : 0);
    if (n <= PEEKA_REDACT_MAX)
        return 0;
    snprintf(err, errlen, "--redact: at most %d rules per probe (the default set counts as one)",
             PEEKA_REDACT_MAX);
    return -1;
}

static int probe_redact(probe_spec *p, const char *kind, const char *rule, char *err, size_t errlen)
{
    if (!strcmp(kind, "monitor")) {
        snprintf(err, errlen, "--redact does not apply to monitor: its records hold no argument "
                 "values (it does to watch, trace and stack)");
        return -1;
    }
    if (p->nredact == PEEKA_REDACT_MAX) {
        snprintf(err, errlen, "--redact: at most %d rules per probe", PEEKA_REDACT_MAX);
        return -1;
    }
    if (check_rule("--redact", rule, err, errlen) < 0)
        return -1;
    if (!(p->redact[p->nredact] = strdup(rule))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p->nredact++;
    return 0;
}

/* --max-items / --max-attrs N (1..1000), --max-string N (1..1M): how much
 * of a value is shown; the record limit (1 MiB) still bounds the whole. */
static int parse_limit(probe_spec *p, const char *opt, const char *val, char *err, size_t errlen)
{
    long long v;
    int string = !strcmp(opt, "--max-string");
    long long hi = string ? 1048576 : 1000;
    if (parse_int(val, &v) < 0 || v < 1 || v > hi) {
        snprintf(err, errlen, "%s needs a count from 1 to %lld", opt, hi);
        return -1;
    }
    if (string) p->max_string = (int)v;
    else if (!strcmp(opt, "--max-items")) p->max_items = (int)v;
    else p->max_attrs = (int)v;
    return 0;
}

/* --mode: 0600 plus any of group read/write and other read.  Nothing
 * executable, nothing anyone may write, nothing the owner cannot read and
 * write (peeka writes it, the owner reads it back). */
static int parse_mode(const char *s, unsigned *out, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 8);
    if (errno || end == s || *end || s[0] == '-' || v > 07777) {
        snprintf(err, errlen, "--mode needs an octal mode like 0640, got '%s'", s);
        return -1;
    }
    if (v & 0111) {
        snprintf(err, errlen, "--mode %s: an archive is not executable (no x bits)", s);
        return -1;
    }
    if (v & 0002) {
        snprintf(err, errlen, "--mode %s: an archive others may write is refused", s);
        return -1;
    }
    if (v & 07000 || (v & 0600) != 0600) {
        snprintf(err, errlen, "--mode %s: must be 0600 plus any of 0060 and 0004 (0600..0664)", s);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

static void probe_spec_free(probe_spec *p)
{
    free(p->pattern);
    free(p->condition);
    free(p->spec);
    for (int k = 0; k < p->nredact; k++)
        free(p->redact[k]);
    for (int k = 0; k < p->nrecord; k++)
        free(p->record[k]);
    memset(p, 0, sizeof *p);
}

static int parse_probe_words(char **w, int n, rec_options *o, char *err, size_t errlen);

/* words[0] is the kind, words[1] the pattern, then the probe's options;
 * a probe refused leaves nothing allocated behind. */
static int parse_probe(char **w, int n, rec_options *o, char *err, size_t errlen)
{
    int rc = parse_probe_words(w, n, o, err, errlen);
    if (rc < 0 && o->nprobes < MAX_REC_PROBES)
        probe_spec_free(&o->probes[o->nprobes]);
    return rc;
}

static int parse_probe_words(char **w, int n, rec_options *o, char *err, size_t errlen)
{
    if (o->nprobes == MAX_REC_PROBES) { snprintf(err, errlen, "too many probes (limit %d)", MAX_REC_PROBES); return -1; }
    if (n < 2 || w[1][0] == '-') { snprintf(err, errlen, "%s needs a PATTERN (module.function)", w[0]); return -1; }
    probe_spec *p = &o->probes[o->nprobes];
    memset(p, 0, sizeof *p);
    p->id = o->nprobes + 1;
    snprintf(p->kind, sizeof p->kind, "%s", w[0]);
    p->depth = 2;
    p->times = -1;
    p->max_depth = !strcmp(w[0], "trace") ? 3 : 10;
    p->interval_s = 60;
    int b = 0, s = 0, e = 0, f = 0;
    for (int i = 2; i < n; i++) {
        const char *a = w[i];
        const char *val = i + 1 < n ? w[i + 1] : NULL;
        long long v;
        double d;
        int arity = probe_opt_arity(w[0], a);
        if (arity < 0) { snprintf(err, errlen, "unknown option '%s' for %s (see peeka-rec --help)", a, w[0]); return -1; }
        if (arity == 1 && !val) { snprintf(err, errlen, "%s needs a value", a); return -1; }
        if (!strcmp(w[0], "trace") && (!strcmp(a, "-d") || !strcmp(a, "--depth"))) {
            if (parse_int(val, &v) < 0 || v < 1 || v > 64) { snprintf(err, errlen, "%s needs a depth from 1 to 64", a); return -1; }
            p->max_depth = (int)v; i++;
        } else if (!strcmp(w[0], "stack") && !strcmp(a, "--depth")) {
            if (parse_int(val, &v) < 0 || v < 1 || v > 256) { snprintf(err, errlen, "%s needs a depth from 1 to 256", a); return -1; }
            p->max_depth = (int)v; i++;
        } else if (!strcmp(a, "--skip-builtin")) {
            p->skip_builtin = 1;
        } else if (!strcmp(a, "--repr")) {
            p->repr = 1;
        } else if (!strcmp(a, "--min-duration")) {
            if (parse_num(val, &d) < 0 || d < 0) { snprintf(err, errlen, "--min-duration needs milliseconds (>= 0)"); return -1; }
            p->min_duration_ms = d; i++;
        } else if (!strcmp(a, "--fold-below")) {
            if (parse_num(val, &d) < 0 || d < 0) { snprintf(err, errlen, "--fold-below needs milliseconds (>= 0)"); return -1; }
            p->fold_below_ms = d; i++;
        } else if (!strcmp(a, "--interval")) {
            if (parse_num(val, &d) < 0 || d < 0.01 || d > 86400) { snprintf(err, errlen, "--interval needs seconds from 0.01 to 86400"); return -1; }
            p->interval_s = d; i++;
        } else if (!strcmp(a, "-c") || !strcmp(a, "--cycles")) {
            if (parse_int(val, &v) < 0 || v == 0 || v < -1) { snprintf(err, errlen, "%s needs a positive count (or -1)", a); return -1; }
            p->times = v; i++;
        } else if (!strcmp(a, "-x") || !strcmp(a, "--depth")) {
            if (!val || parse_int(val, &v) < 0 || v < 1 || v > 16) { snprintf(err, errlen, "%s needs a depth from 1 to 16", a); return -1; }
            p->depth = (int)v; i++;
        } else if (!strcmp(a, "-n") || !strcmp(a, "--times")) {
            if (!val || parse_int(val, &v) < 0 || v == 0 || v < -1) { snprintf(err, errlen, "%s needs a positive count (or -1)", a); return -1; }
            p->times = v; i++;
        } else if (!strcmp(a, "--condition")) {
            if (!val) { snprintf(err, errlen, "--condition needs an expression"); return -1; }
            free(p->condition);
            p->condition = strdup(val); i++;
        } else if (!strcmp(a, "--redact")) {
            if (probe_redact(p, w[0], val, err, errlen) < 0) return -1;
            i++;
        } else if (!strcmp(a, "--record")) {
            if (record_split(val, p->record, &p->nrecord, RECORD_EXPRS_MAX, err, errlen) < 0) return -1;
            i++;
        } else if (!strcmp(a, "--max-items") || !strcmp(a, "--max-attrs") || !strcmp(a, "--max-string")) {
            if (parse_limit(p, a, val, err, errlen) < 0) return -1;
            i++;
        } else if (!strcmp(a, "-b") || !strcmp(a, "--before")) b = 1;
        else if (!strcmp(a, "-s") || !strcmp(a, "--success")) s = 1;
        else if (!strcmp(a, "-e") || !strcmp(a, "--exception")) e = 1;
        else if (!strcmp(a, "-f") || !strcmp(a, "--finish")) f = 1;
        else { snprintf(err, errlen, "unknown option '%s' for %s (see peeka-rec --help)", a, w[0]); return -1; }
    }
    if (strcmp(w[0], "watch")) b = s = e = f = 0;   /* entry/exit flags are watch's */
    else if (!b && !s && !e && !f) f = 1;
    p->at_enter = b;
    p->at_success = s || f;
    p->at_exception = e || f;
    char buf[PEEKA_PATTERN_MAX], *parts[PEEKA_PATTERN_PARTS];
    if (peeka_pattern_split(w[1], buf, parts, err, errlen) < 0)
        return -1;
    p->pattern = strdup(w[1]);
    p->spec = join_words(w, n);
    if (!p->pattern || !p->spec) { snprintf(err, errlen, "out of memory"); return -1; }
    o->nprobes++;
    return 0;
}

static int parse_probe_string(const char *spec, rec_options *o, char *err, size_t errlen)
{
    char *w[MAX_WORDS];
    int n = split_words(spec, w, MAX_WORDS, err, errlen);
    if (n < 0) return -1;
    int rc = 0;
    if (n == 0) { snprintf(err, errlen, "empty probe"); rc = -1; }
    else if (!is_probe_kind(w[0])) { snprintf(err, errlen, "unknown probe '%s' (supported: watch, trace, stack, monitor)", w[0]); rc = -1; }
    else rc = parse_probe(w, n, o, err, errlen);
    for (int i = 0; i < n; i++) free(w[i]);
    return rc;
}

static int parse_probe_file(const char *path, rec_options *o, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) { snprintf(err, errlen, "cannot read probe file %s: %s", path, strerror(errno)); return -1; }
    char line[4096];
    int rc = 0, lineno = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        const char *s = line + strspn(line, " \t");
        if (!*s || *s == '#') continue;
        char sub[400];
        if ((rc = parse_probe_string(s, o, sub, sizeof sub)) < 0)
            snprintf(err, errlen, "%s:%d: %s", path, lineno, sub);
    }
    fclose(f);
    return rc;
}

static const char *need(int argc, char **argv, int *i, char *err, size_t errlen)
{
    if (*i + 1 >= argc) { snprintf(err, errlen, "%s needs a value", argv[*i]); return NULL; }
    return argv[++*i];
}

static int global_option(int argc, char **argv, int *i, rec_options *o, char *err, size_t errlen)
{
    const char *a = argv[*i], *v;
    long long n;
    if (!strcmp(a, "-p") || !strcmp(a, "--pid")) {
        if (!(v = need(argc, argv, i, err, errlen))) return -1;
        if (parse_int(v, &n) < 0 || n <= 0) { snprintf(err, errlen, "--pid needs a process id, got '%s'", v); return -1; }
        o->pid = (pid_t)n;
    } else if (!strcmp(a, "-d") || !strcmp(a, "--duration")) {
        if (!(v = need(argc, argv, i, err, errlen))) return -1;
        if ((o->duration_s = peeka_parse_duration(v)) <= 0) { snprintf(err, errlen, "--duration needs a time like 30, 30s, 5m, 1h; got '%s'", v); return -1; }
    } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
        if (!(o->output = need(argc, argv, i, err, errlen))) return -1;
    } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
        o->quiet = 1;
    } else if (!strcmp(a, "--buffer")) {
        if (!(v = need(argc, argv, i, err, errlen))) return -1;
        o->buffer_bytes = (size_t)peeka_parse_size(v);
        if (o->buffer_bytes < 65536 || o->buffer_bytes > (1u << 30)) { snprintf(err, errlen, "--buffer needs a size from 64K to 1G; got '%s'", v); return -1; }
    } else if (!strcmp(a, "--lossless")) {
        o->lossless = 1;
    } else if (!strcmp(a, "--level")) {
        if (!(v = need(argc, argv, i, err, errlen))) return -1;
        if (parse_int(v, &n) < 0 || n < 1 || n > 19) { snprintf(err, errlen, "--level needs 1..19"); return -1; }
        o->zstd_level = (int)n;
    } else if (!strcmp(a, "--timeout")) {
        if (!(v = need(argc, argv, i, err, errlen))) return -1;
        if ((o->attach_timeout_s = peeka_parse_duration(v)) <= 0) { snprintf(err, errlen, "--timeout needs a time like 10s"); return -1; }
    } else if (!strcmp(a, "--via")) {
        if (!(v = need(argc, argv, i, err, errlen))) return -1;
        if (!strcmp(v, "native"))
            v = "auto"; /* the name before there were several routes */
        if (strcmp(v, "auto") && strcmp(v, "remote-exec") && strcmp(v, "ptrace") && strcmp(v, "gdb")) {
            snprintf(err, errlen, "--via is auto, remote-exec, ptrace or gdb (not '%s')", v);
            return -1;
        }
        o->via = v;
    } else if (!strcmp(a, "--mode")) {
        if (!(v = need(argc, argv, i, err, errlen))) return -1;
        return parse_mode(v, &o->mode, err, errlen);
    } else if (!strcmp(a, "--redact")) {
        if (!(v = need(argc, argv, i, err, errlen))) return -1;
        if (o->nredact == PEEKA_REDACT_MAX) {
            snprintf(err, errlen, "--redact: at most %d rules", PEEKA_REDACT_MAX);
            return -1;
        }
        if (check_rule("--redact", v, err, errlen) < 0) return -1;
        o->redact[o->nredact++] = v;
    } else if (!strcmp(a, "--no-default-redact")) {
        o->default_redact = 0;
    } else if (!strcmp(a, "--probe")) {
        if (!(v = need(argc, argv, i, err, errlen))) return -1;
        return parse_probe_string(v, o, err, errlen);
    } else if (!strcmp(a, "--probe-file")) {
        if (!(v = need(argc, argv, i, err, errlen))) return -1;
        return parse_probe_file(v, o, err, errlen);
    } else {
        snprintf(err, errlen, "unknown option '%s' (see peeka-rec --help)", a);
        return -1;
    }
    return 0;
}

int options_parse(int argc, char **argv, rec_options *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    o->zstd_level = 1;   /* beats 3 on JSONL records, in speed and size (docs/architecture.md) */
    o->buffer_bytes = 4u << 20;
    o->attach_timeout_s = 10;
    o->via = "auto";
    o->mode = 0600;
    o->default_redact = 1;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { options_usage(stdout); return 1; }
        if (!strcmp(a, "-V") || !strcmp(a, "--version")) { printf("peeka-rec %s\n", PEEKA_VERSION); return 1; }
        if (!strcmp(a, "--")) { i++; break; }
        if (is_probe_kind(a)) {
            /* the kind, the pattern, then as many probe options as follow */
            int j = i + 2 <= argc ? i + 2 : argc;
            for (int k; j < argc && (k = probe_opt_arity(a, argv[j])) >= 0; j += 1 + k)
                ;
            if (j > argc) j = argc;
            if (parse_probe(argv + i, j - i, o, err, errlen) < 0) return -1;
            i = j - 1;
            continue;
        }
        if (a[0] != '-') { snprintf(err, errlen, "unknown probe '%s' (supported: watch, trace, stack, monitor)", a); return -1; }
        if (global_option(argc, argv, &i, o, err, errlen) < 0) return -1;
    }
    if (i < argc) o->cmd = argv + i;
    if (o->nprobes == 0) { snprintf(err, errlen, "no probe given: e.g. watch app.module.function"); return -1; }
    if (!o->pid && !o->cmd) { snprintf(err, errlen, "give -p PID to attach, or -- CMD... to launch"); return -1; }
    if (o->pid && o->cmd) { snprintf(err, errlen, "-p PID and -- CMD cannot be combined"); return -1; }
    for (int k = 0; k < o->nprobes; k++)
        if (check_rule_count(o, &o->probes[k], err, errlen) < 0) return -1;
    return 0;
}

void options_free(rec_options *o)
{
    for (int i = 0; i < o->nprobes; i++)
        probe_spec_free(&o->probes[i]);
    o->nprobes = 0;
}
