/* A probe's option values, read and written through the table
 * (probe_table.h): from the command line (peeka-rec), into the install
 * request and session.json (peeka-rec), and back from the request with
 * every type and range checked (the agent). */
#ifndef PEEKA_PROBE_VALUES_H
#define PEEKA_PROBE_VALUES_H

#include <cJSON.h>

#include "probe_table.h"

typedef struct pt_values {
    const pt_kind *kind;
    unsigned char given[PT_MAX_OPTS];
    double num[PT_MAX_OPTS];      /* PT_FLAG (0/1), PT_INT, PT_COUNT, PT_NUM */
    char *text[PT_MAX_OPTS];      /* PT_TEXT, PT_CHOICE: owned, NULL when absent */
} pt_values;

/* Every option at its default, nothing given. */
void pt_values_init(pt_values *v, const pt_kind *k);
void pt_values_free(pt_values *v);

/* Option i's value from the command line (`word` is how the user named
 * it): 0, or -1 with a message such as "-x needs a depth from 1 to 16".
 * Only the types the table can check alone (not RULES, EXPRS, REFUSED). */
int pt_values_set(pt_values *v, int i, const char *word, const char *val, char *err, size_t errlen);

/* The value sent as `key`, or `absent` when the kind has no such option. */
double pt_num(const pt_values *v, const char *key, double absent);
/* The text sent as `key`, or NULL. */
const char *pt_text(const pt_values *v, const char *key);
int pt_given(const pt_values *v, const char *key);

/* Adds every option that has a key to obj: the request's names, or with
 * `archive` session.json's (where an absent text is null).  RULES and
 * EXPRS are the caller's: they are not values of this probe alone. */
void pt_values_put(const pt_values *v, cJSON *obj, int archive);

/* The agent's side: every option of kind k from a probe of the install
 * request, absent ones at their defaults, a wrong type or a value out of
 * range refused ("probe 2: max_depth 65 is out of range (1..64)"), and so
 * is a field that belongs to another kind's options only. */
int pt_values_get(pt_values *v, const pt_kind *k, const cJSON *obj, int id, char *err, size_t errlen);

#endif
