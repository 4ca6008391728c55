/* peeka-rec's command line, parsed. */
#ifndef PEEKA_OPTIONS_H
#define PEEKA_OPTIONS_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "probe_values.h"
#include "record_expr.h"
#include "redact.h"

#define MAX_REC_PROBES 64

typedef struct {
    int id;
    char kind[16];
    const pt_kind *pk;          /* its entry in the probe table */
    char *pattern;              /* NULL for a kind without one */
    pt_values v;                /* its options, by the table (probe_values.h) */
    char *spec;                 /* as the user wrote it */
    char *redact[PEEKA_REDACT_MAX];   /* this probe's own --redact rules */
    int nredact;
    char *record[RECORD_EXPRS_MAX];   /* watch --record expressions */
    int nrecord;
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
    int timeout_given;          /* --timeout was on the command line */
    double outside_wait_s;      /* >0: a one-shot thread dump on 3.8+ waits this long for the
                                 * agent, then reads from outside (set by main, not parsed) */
    const char *via;            /* "auto", "remote-exec", "ptrace" or "gdb" */
    int attach_installed;       /* --attach-installed: the pre-installed agent or nothing */
    int uninstall;              /* --uninstall PID: remove peeka from pid, record nothing */
    int follow_forks;           /* --follow-forks: children forked while recording are recorded too */
    unsigned mode;              /* the archive's mode (--mode), 0600 by default */
    int default_redact;         /* PEEKA_REDACT_DEFAULT applies (no --no-default-redact) */
    const char *redact[PEEKA_REDACT_MAX];   /* --redact rules for every probe */
    int nredact;
    probe_spec probes[MAX_REC_PROBES];
    int nprobes;
    /* detached sessions (session_*.c) and buffer policies (buffer_policy.c) */
    const char *detach_key;     /* --detach=KEY: peeka-rec becomes the session's holder */
    const char *session_key;    /* --attach=KEY, --is-detached=KEY */
    int session_cmd;            /* SESSION_*: peeka-rec talks to a detached session */
    int json;                   /* --list-sessions --json */
    int no_limit;               /* --no-limit: a detached session without -d or -n */
    size_t ring_bytes;          /* --ring SIZE (JSONL bytes kept); 0: stream */
    double flush_period_s;      /* --flush-period (1 s) */
} rec_options;

enum { SESSION_NONE, SESSION_ATTACH, SESSION_STOP, SESSION_IS_DETACHED, SESSION_LIST };

/* The value of --name VALUE or --name=VALUE at argv[*i] (advancing *i
 * past it): 1 it is that option, 0 another, -1 no value (message in err). */
int option_value(int argc, char **argv, int *i, const char *name, const char **v, char *err,
                 size_t errlen);

/* session_options.c: a command line that talks to detached sessions
 * (--attach, --is-detached, --list-sessions), which takes no other option.
 * 1 it was one (parsed into o), 0 it was not, -1 with a message. */
int session_options_parse(int argc, char **argv, rec_options *o, char *err, size_t errlen);

/* 0 ok; -1 with a message in err (usage error); 1 when --help/--version
 * printed something and the program should exit 0. */
int options_parse(int argc, char **argv, rec_options *o, char *err, size_t errlen);
void options_free(rec_options *o);
/* Every rule probe p applies, in order: the default set (unless
 * --no-default-redact), the global --redact rules, then p's own. */
int options_redact_rules(const rec_options *o, const probe_spec *p, const char **out, int max);
void options_usage(FILE *out);
/* -n / -c: how many records (or monitor intervals) end the probe; -1: no limit */
long long probe_times(const probe_spec *p);

#endif
