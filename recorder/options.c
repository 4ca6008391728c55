/* peeka-rec [OPTIONS] PROBE... [-- CMD ARGS...]
 * A probe is a Peeka command and its own options, e.g.
 *   watch app.views.checkout -x 3 -n 100 --condition 'cost > 50'
 * given inline, with --probe 'SPEC', or one per line in --probe-file. */
#include "options.h"
#include "duration.h"
#include "record_expr.h"
#include "pattern.h"
#include "probe_snapshot.h"
#include "probe_table.h"
#include "peeka_limits.h"
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
"Probes (Peeka's commands):\n", out);
    pt_usage(out);
    fputs(
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
"      --buffer SIZE      agent ring buffer (default 16M)\n"
"      --lossless         never drop a record: a call that finds the agent's\n"
"                         buffer full waits until it has room (CI, benchmarks)\n"
"      --level N          zstd level (default 1: on records, faster and smaller\n"
"                         than 3; see docs/architecture.md)\n"
"      --timeout TIME     how long to wait for the agent (default 10s)\n"
"      --via ROUTE        how to get into a running process: auto (default: PEP 768\n"
"                         remote-exec on CPython 3.14+, else ptrace), remote-exec,\n"
"                         ptrace, gdb\n"
"      --attach-installed use the process's pre-installed agent (peeka_agent.install()),\n"
"                         no ptrace; exit 23 if it has none (-p PID uses it anyway\n"
"                         when there is one)\n"
"      --follow-forks     record every process the target forks while it is\n"
"                         recorded too, into the same archive (records get `pid`)\n"
"      --uninstall PID    remove every trace of peeka from PID (its pre-installed\n"
"                         agent, probes a failed detach left, an open session)\n"
"      --mode MODE        the archive's permissions, octal (default 0600; 0600\n"
"                         plus any of 0060 and 0004, e.g. 0640)\n"
"      --redact REGEX     write \"[redacted]\" for values whose key, parameter or\n"
"                         attribute name matches REGEX (POSIX extended, any case,\n"
"                         anywhere in the name; repeatable; before the probes)\n"
"      --no-default-redact  drop the built-in rule\n"
"                         " PEEKA_REDACT_DEFAULT "\n"
"      --ring SIZE        keep only the newest SIZE of records (JSONL bytes, e.g.\n"
"                         16M) and write them when the recording ends\n"
"      --flush-period TIME  how often records are written out (default 1s);\n"
"                         SIGUSR1 flushes now (with --ring: writes a snapshot,\n"
"                         NAME.snapshot-N.tar.zst)\n"
"      --detach=KEY       a detached session: return once the probes are in and\n"
"                         record on in the background (README \"Long and\n"
"                         background recordings\"); needs -d, -n on every probe,\n"
"                         or --no-limit\n"
"      --no-limit         let a detached session run until it is stopped\n"
"      --attach=KEY       follow a detached session until it ends, with its exit\n"
"                         code; Ctrl-C stops it (nothing else goes with it)\n"
"      --stop             with --attach=KEY: stop the session, return when its\n"
"                         archive is complete\n"
"      --is-detached=KEY, --is_detached=KEY\n"
"                         exit 0 if the session runs, 2 if there is none, 1 on\n"
"                         an error\n"
"      --list-sessions    the detached sessions: key, pid, target, start,\n"
"                         records, probes, output (--json: as a JSON array)\n"
"      --json             with --list-sessions\n"
"  -h, --help             this help;  -V, --version: the version\n"
"\n"
"Examples:\n"
"  peeka-rec -p \"$(pgrep -o -f gunicorn)\" -d 60 -o '/var/log/peeka/%Y%m%d-%H%M.tar.zst' \\\n"
"      watch app.views.checkout\n"
"  peeka-rec -d 5m watch 'app.core.*' -n 1000 -- python3 -m pytest tests/\n"
"  peeka-rec -p 4242 -o - watch app.cart.Cart.total --condition 'cost > 50' | jq .cost\n"
"\n"
"Exit codes: 0 ok, 2 usage, 3 probe error, 4 target exited (archive complete),\n"
"5 write error, 6 agent lost, 7 agent protocol error, 10-19 attach errors,\n"
"20-22 detached sessions (see README).  In launch mode, the program's own\n"
"exit status (128+N if signal N killed it); SIGINT, SIGTERM and SIGHUP are\n"
"passed on to it, and it runs to its end even when the agent cannot be loaded.\n", out);
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
    return pt_kind_named(w) != NULL;
}

/* -1: not an option of this kind of probe; 0: a flag; 1: takes a value */
static int probe_opt_arity(const char *kind, const char *w)
{
    const pt_kind *k = pt_kind_named(kind);
    int i = k ? pt_option_index(k, w) : -1;
    return i < 0 ? -1 : pt_takes_value(&k->opts[i]);
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

static int probe_redact(probe_spec *p, const char *rule, char *err, size_t errlen)
{
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
    free(p->spec);
    pt_values_free(&p->v);
    for (int k = 0; k < p->nredact; k++)
        free(p->redact[k]);
    for (int k = 0; k < p->nrecord; k++)
        free(p->record[k]);
    memset(p, 0, sizeof *p);
}

long long probe_times(const probe_spec *p)
{
    if (pt_is_snapshot(p->pk->kind))
        return pt_snapshot_times(&p->v);
    return (long long)pt_num(&p->v, "times", -1);
}

/* sm CLASS_PATTERN [METHOD_PATTERN]: the second word is its --method. */
static int second_operand(const pt_kind *k, const char *w)
{
    return k->kind == PK_SM && w[0] != '-' && !pt_kind_named(w);
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

/* One option and its value: the table checks what it can, the rest needs
 * peeka-rec's own parsers. */
static int probe_option(probe_spec *p, int i, const char *word, const char *val, char *err, size_t errlen)
{
    const pt_option *opt = &p->pk->opts[i];
    switch (opt->type) {
    case PT_REFUSED:
        snprintf(err, errlen, "%s", opt->help);
        return -1;
    case PT_RULES:
        return probe_redact(p, val, err, errlen);
    case PT_EXPRS:
        return record_split(val, p->record, &p->nrecord, RECORD_EXPRS_MAX, err, errlen);
    default:
        return pt_values_set(&p->v, i, word, val, err, errlen);
    }
}

/* watch -b/-s/-e/-f: none given means -f, and -f means both exits. */
static void watch_events(probe_spec *p)
{
    pt_values *v = &p->v;
    int b = pt_given(v, "at_enter"), s = pt_given(v, "at_success"), e = pt_given(v, "at_exception");
    int fi = pt_option_index(p->pk, "--finish");
    int f = (fi >= 0 && v->given[fi]) || (!b && !s && !e);
    v->num[pt_key_index(p->pk, "at_enter")] = b;
    v->num[pt_key_index(p->pk, "at_success")] = s || f;
    v->num[pt_key_index(p->pk, "at_exception")] = e || f;
}

static int parse_probe_words(char **w, int n, rec_options *o, char *err, size_t errlen)
{
    if (o->nprobes == MAX_REC_PROBES) { snprintf(err, errlen, "too many probes (limit %d)", MAX_REC_PROBES); return -1; }
    probe_spec *p = &o->probes[o->nprobes];
    memset(p, 0, sizeof *p);
    p->pk = pt_kind_named(w[0]);
    pt_values_init(&p->v, p->pk);
    int first = 1;
    if (p->pk->operand) {
        if (n < 2 || w[1][0] == '-') { snprintf(err, errlen, "%s needs a %s (module.function)", w[0], p->pk->operand); return -1; }
        first = 2;
        if (n > 2 && second_operand(p->pk, w[2])) {
            if (probe_option(p, pt_option_index(p->pk, "--method"), "METHOD_PATTERN", w[2], err, errlen) < 0)
                return -1;
            first = 3;
        }
    }
    p->id = o->nprobes + 1;
    snprintf(p->kind, sizeof p->kind, "%s", w[0]);
    for (int i = first; i < n; i++) {
        const char *a = w[i];
        int k = pt_option_index(p->pk, a);
        if (k < 0) { snprintf(err, errlen, "unknown option '%s' for %s (see peeka-rec --help)", a, w[0]); return -1; }
        int takes = pt_takes_value(&p->pk->opts[k]);
        if (takes && i + 1 >= n) { snprintf(err, errlen, "%s needs a value", a); return -1; }
        if (probe_option(p, k, a, takes ? w[i + 1] : NULL, err, errlen) < 0) return -1;
        i += takes;
    }
    if (p->pk->kind == PK_WATCH)
        watch_events(p);
    if (pt_is_snapshot(p->pk->kind) && pt_snapshot_check(&p->v, err, errlen) < 0)
        return -1;
    if (p->pk->kind == PK_THREAD && pt_num(&p->v, "interval_s", 0) == 0)
        p->v.num[pt_key_index(p->pk, "times")] = 1;   /* no --interval: one snapshot */
    if (p->pk->operand) {
        char buf[PEEKA_PATTERN_MAX], *parts[PEEKA_PATTERN_PARTS];
        if (pt_is_snapshot(p->pk->kind) ? strlen(w[1]) >= PEEKA_PATTERN_MAX   /* a glob on the whole name */
                                        : peeka_pattern_split(w[1], buf, parts, err, errlen) < 0) {
            if (pt_is_snapshot(p->pk->kind))
                snprintf(err, errlen, "%s: the pattern is longer than %d bytes", w[0], PEEKA_PATTERN_MAX - 1);
            return -1;
        }
        if (!(p->pattern = strdup(w[1]))) { snprintf(err, errlen, "out of memory"); return -1; }
    }
    p->spec = join_words(w, n);
    if (!p->spec) { snprintf(err, errlen, "out of memory"); return -1; }
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
    else if (!is_probe_kind(w[0])) { snprintf(err, errlen, "unknown probe '%s' (supported: %s)", w[0], pt_kind_names()); rc = -1; }
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

/* --name VALUE or --name=VALUE: 1 and *v when argv[*i] is that option,
 * 0 when it is another, -1 when its value is missing. */
int option_value(int argc, char **argv, int *i, const char *name, const char **v, char *err,
                 size_t errlen)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) || (argv[*i][n] && argv[*i][n] != '='))
        return 0;
    if (argv[*i][n] == '=') {
        *v = argv[*i] + n + 1;
        return 1;
    }
    return (*v = need(argc, argv, i, err, errlen)) ? 1 : -1;
}

/* --detach, --no-limit, --ring, --flush-period; 0 when a is none of them. */
static int policy_option(int argc, char **argv, int *i, rec_options *o, char *err, size_t errlen)
{
    const char *v;
    int m;
    if ((m = option_value(argc, argv, i, "--detach", &v, err, errlen)) != 0) {
        o->detach_key = v;
    } else if (!strcmp(argv[*i], "--no-limit")) {
        o->no_limit = m = 1;
    } else if ((m = option_value(argc, argv, i, "--ring", &v, err, errlen)) == 1) {
        unsigned long long b = peeka_parse_size(v);
        if (b < 65536 || b > (16ULL << 30)) { snprintf(err, errlen, "--ring needs a size from 64K to 16G; got '%s'", v); return -1; }
        o->ring_bytes = (size_t)b;
    } else if ((m = option_value(argc, argv, i, "--flush-period", &v, err, errlen)) == 1) {
        if ((o->flush_period_s = peeka_parse_duration(v)) < 0.01) { snprintf(err, errlen, "--flush-period needs a time of at least 10ms, like 1s or 500ms; got '%s'", v); return -1; }
    }
    return m;
}

static int global_option(int argc, char **argv, int *i, rec_options *o, char *err, size_t errlen)
{
    const char *a = argv[*i], *v;
    long long n;
    int pm = policy_option(argc, argv, i, o, err, errlen);
    if (pm != 0)
        return pm < 0 ? -1 : 0;
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
        o->timeout_given = 1;
    } else if (!strcmp(a, "--via")) {
        if (!(v = need(argc, argv, i, err, errlen))) return -1;
        if (!strcmp(v, "native"))
            v = "auto"; /* the name before there were several routes */
        if (strcmp(v, "auto") && strcmp(v, "remote-exec") && strcmp(v, "ptrace") && strcmp(v, "gdb")) {
            snprintf(err, errlen, "--via is auto, remote-exec, ptrace or gdb (not '%s')", v);
            return -1;
        }
        o->via = v;
    } else if (!strcmp(a, "--follow-forks")) {
        o->follow_forks = 1;
    } else if (!strcmp(a, "--attach-installed")) {
        o->attach_installed = 1;
    } else if (!strcmp(a, "--uninstall")) {
        if (!(v = need(argc, argv, i, err, errlen))) return -1;
        if (parse_int(v, &n) < 0 || n <= 0) { snprintf(err, errlen, "--uninstall needs a process id, got '%s'", v); return -1; }
        o->pid = (pid_t)n;
        o->uninstall = 1;
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

/* A forgotten detached session is the danger: one runs without a bound
 * only when asked to. */
static int check_policy(const rec_options *o, char *err, size_t errlen)
{
    int to_stdout = o->output && !strcmp(o->output, "-");
    if (to_stdout && (o->detach_key || o->ring_bytes)) {
        snprintf(err, errlen, "%s needs an archive: -o - (stdout) cannot be used with it",
                 o->detach_key ? "--detach" : "--ring");
        return -1;
    }
    int bounded = o->duration_s > 0;
    for (int k = 0; !bounded && k < o->nprobes && probe_times(&o->probes[k]) > 0; k++)
        bounded = k == o->nprobes - 1;
    if (o->detach_key && !bounded && !o->no_limit) {
        snprintf(err, errlen, "--detach=%s without a limit: give -d TIME, -n on every probe, or "
                 "--no-limit (then stop it with peeka-rec --attach=%s --stop)", o->detach_key,
                 o->detach_key);
        return -1;
    }
    return 0;
}

/* top --outside is peeka-rec's own sampling loop (remote_top.c): there is
 * no agent to take other probes, children or a detached session. */
static int check_outside(const rec_options *o, char *err, size_t errlen)
{
    for (int k = 0; k < o->nprobes; k++) {
        if (!pt_num(&o->probes[k].v, "outside", 0))
            continue;
        if (o->nprobes > 1 || !o->pid || o->follow_forks || o->detach_key || o->ring_bytes) {
            snprintf(err, errlen, "top --outside samples from peeka-rec itself, with no agent: it "
                     "must be the only probe, with -p PID, and without --follow-forks, --detach "
                     "or --ring");
            return -1;
        }
    }
    return 0;
}

int options_parse(int argc, char **argv, rec_options *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    o->zstd_level = 1;   /* beats 3 on JSONL records, in speed and size (docs/architecture.md) */
    o->buffer_bytes = PEEKA_BUFFER_DEFAULT;
    o->attach_timeout_s = 10;
    o->via = "auto";
    o->mode = 0600;
    o->default_redact = 1;
    o->flush_period_s = 1;
    int sc = session_options_parse(argc, argv, o, err, errlen);
    if (sc != 0)
        return sc < 0 ? -1 : 0;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { options_usage(stdout); return 1; }
        if (!strcmp(a, "-V") || !strcmp(a, "--version")) { printf("peeka-rec %s\n", PEEKA_VERSION); return 1; }
        if (!strcmp(a, "--list-probe-options")) { pt_list_options(stdout); return 1; }   /* for tests/ */
        if (!strcmp(a, "--")) { i++; break; }
        if (is_probe_kind(a)) {
            /* the kind, the pattern, then as many probe options as follow */
            int j = i + 1 + (pt_kind_named(a)->operand != NULL);
            if (j < argc && second_operand(pt_kind_named(a), argv[j]))
                j++;
            if (j > argc) j = argc;
            for (int k; j < argc && (k = probe_opt_arity(a, argv[j])) >= 0; j += 1 + k)
                ;
            if (j > argc) j = argc;
            if (parse_probe(argv + i, j - i, o, err, errlen) < 0) return -1;
            i = j - 1;
            continue;
        }
        if (a[0] != '-') { snprintf(err, errlen, "unknown probe '%s' (supported: %s)", a, pt_kind_names()); return -1; }
        if (global_option(argc, argv, &i, o, err, errlen) < 0) return -1;
    }
    if (i < argc) o->cmd = argv + i;
    if (o->uninstall && (o->nprobes || o->cmd)) { snprintf(err, errlen, "--uninstall PID takes no probes and no command"); return -1; }
    if (o->uninstall) return 0;
    if (o->nprobes == 0) { snprintf(err, errlen, "no probe given: e.g. watch app.module.function"); return -1; }
    if (!o->pid && !o->cmd) { snprintf(err, errlen, "give -p PID to attach, or -- CMD... to launch"); return -1; }
    if (o->pid && o->cmd) { snprintf(err, errlen, "-p PID and -- CMD cannot be combined"); return -1; }
    for (int k = 0; k < o->nprobes; k++)
        if (check_rule_count(o, &o->probes[k], err, errlen) < 0) return -1;
    if (check_outside(o, err, errlen) < 0) return -1;
    return check_policy(o, err, errlen);
}

void options_free(rec_options *o)
{
    for (int i = 0; i < o->nprobes; i++)
        probe_spec_free(&o->probes[i]);
    o->nprobes = 0;
}
