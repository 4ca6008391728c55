/* peeka-rec's command line, parsed. */
#ifndef PEEKA_OPTIONS_H
#define PEEKA_OPTIONS_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "record_expr.h"
#include "redact.h"

#define MAX_REC_PROBES 64

typedef struct {
    int id;
    char kind[16];
    char *pattern;
    int depth;
    long long times;            /* -1: unlimited */
    char *condition;
    int at_enter, at_success, at_exception;
    int max_depth;              /* trace -d (levels), stack --depth (frames) */
    int skip_builtin;           /* trace */
    double min_duration_ms;     /* trace */
    double fold_below_ms;       /* trace: 0 = no folding */
    double interval_s;          /* monitor; its -c cycles are `times` */
    char *spec;                 /* as the user wrote it */
    char *redact[PEEKA_REDACT_MAX];   /* this probe's own --redact rules */
    int nredact;
    char *record[RECORD_EXPRS_MAX];   /* watch --record expressions */
    int nrecord;
    int max_string, max_items, max_attrs;   /* formatting limits; 0: Peeka's */
    int repr;                   /* --repr: repr() at the depth limit */
} probe_spec;

typedef struct {
    pid_t pid;                  /* attach mode */
    char **cmd;                 /* launch mode: argv after -- */
    double duration_s;          /* 0: no limit */
    const char *output;         /* NULL: default name; "-": JSONL to stdout */
    int quiet;
    int zstd_level;
    size_t buffer_bytes;
    int lossless;               /* --lossless: a full agent buffer makes calls wait */
    double attach_timeout_s;
    const char *via;            /* "auto", "remote-exec", "ptrace" or "gdb" */
    unsigned mode;              /* the archive's mode (--mode), 0600 by default */
    int default_redact;         /* PEEKA_REDACT_DEFAULT applies (no --no-default-redact) */
    const char *redact[PEEKA_REDACT_MAX];   /* --redact rules for every probe */
    int nredact;
    probe_spec probes[MAX_REC_PROBES];
    int nprobes;
} rec_options;

/* 0 ok; -1 with a message in err (usage error); 1 when --help/--version
 * printed something and the program should exit 0. */
int options_parse(int argc, char **argv, rec_options *o, char *err, size_t errlen);
void options_free(rec_options *o);
/* Every rule probe p applies, in order: the default set (unless
 * --no-default-redact), the global --redact rules, then p's own. */
int options_redact_rules(const rec_options *o, const probe_spec *p, const char **out, int max);
void options_usage(FILE *out);

#endif
