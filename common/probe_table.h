/* The probe vocabulary, written once: every kind of probe and its options
 * with their names, types, defaults and ranges.  peeka-rec parses and
 * documents its command line from it (recorder/options.c, --help) and
 * builds the install request and session.json's options from it
 * (probe_values.c); the agent checks each request against the same table
 * (agent/commands.c), so the two halves cannot disagree on a range.
 *
 * Adding a kind of probe: an entry in pt_kinds (probe_table.c), the
 * agent file that observes it, and its report in scripts/. */
#ifndef PEEKA_PROBE_TABLE_H
#define PEEKA_PROBE_TABLE_H

#include <stddef.h>
#include <stdio.h>

enum probe_kind { PK_WATCH = 1, PK_TRACE, PK_STACK, PK_MONITOR, PK_THREAD, PK_TOP,
                  PK_MEMORY, PK_LOGGER, PK_INSPECT, PK_SC, PK_SM };   /* the last five: agent/interp_probes.h */

typedef enum {
    PT_FLAG,      /* no value: true when given */
    PT_INT,       /* an integer in [lo, hi] */
    PT_COUNT,     /* a positive integer, or -1 for no limit */
    PT_NUM,       /* a number in [lo, hi] */
    PT_TEXT,      /* a string; the last one given wins */
    PT_CHOICE,    /* one of `choices`, '|'-separated; the first is the default */
    PT_RULES,     /* a redaction rule, repeatable (peeka-rec adds the global ones) */
    PT_EXPRS,     /* expressions to record, repeatable (watch --record) */
    PT_REFUSED,   /* accepted by the parser only to be refused with `help` as the reason */
} pt_type;

typedef struct pt_option {
    const char *name;         /* "--depth" */
    const char *alias;        /* "-x", or NULL */
    pt_type type;
    const char *key;          /* its field in the install request; NULL: peeka-rec's alone */
    const char *archive_key;  /* its name in session.json's options when not `key` */
    double dflt;              /* what the agent assumes when the request omits it */
    double lo, hi;            /* PT_INT, PT_NUM: inclusive */
    const char *choices;      /* PT_CHOICE */
    const char *metavar;      /* in --help: "N", "MS", "EXPR" */
    const char *noun;         /* in range errors: "a depth", "milliseconds" */
    const char *help;         /* --help text; '\n' starts a continuation line */
} pt_option;

typedef struct pt_kind {
    const char *name;
    enum probe_kind kind;
    const char *operand;      /* "PATTERN", or NULL: the probe takes none */
    const char *help;         /* the lines under its synopsis in --help */
    int counts_cycles;        /* its limit (`times`) counts intervals, not records */
    const pt_option *opts;
    int nopts;
} pt_kind;

#define PT_MAX_OPTS 24

extern const pt_kind pt_kinds[];
extern const int pt_nkinds;

const pt_kind *pt_kind_named(const char *name);
const pt_kind *pt_kind_of(int kind);
/* The index in k of the option a command-line word names (its name or
 * alias), or -1. */
int pt_option_index(const pt_kind *k, const char *word);
/* The index in k of the option sent as `key`, or -1. */
int pt_key_index(const pt_kind *k, const char *key);
/* Does the option take a value after it on the command line? */
int pt_takes_value(const pt_option *o);
/* The kinds by name, for messages: "watch, trace, stack, monitor". */
const char *pt_kind_names(void);
/* The probe part of `peeka-rec --help`. */
void pt_usage(FILE *out);
/* One tab-separated line per option (kind, name, alias, type, key,
 * default, lo, hi, the kind's operand): what the test that the docs name
 * every option reads. */
void pt_list_options(FILE *out);

#endif
