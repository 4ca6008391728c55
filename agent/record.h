/* watch --record EXPR: the record holds `record: [...]`, the values of the
 * probe's expressions (the condition language, cond.h), instead of
 * params, kwargs, target and returnObj. */
#ifndef PEEKA_RECORD_H
#define PEEKA_RECORD_H

#include "observe.h"

#include <cJSON.h>

#define RECORD_EXPRS_MAX 16

/* Compiles the probe's `record` list (after its redaction rules: which
 * expressions read a hidden name is decided here).  0, or -1 with err. */
int  record_compile(probe *p, const cJSON *list, char *err, size_t errlen);
void record_free(probe *p);
/* `,"record":[...]` for call c; inside the guard (expressions may run user
 * code, as conditions do). */
void record_write(jsonw *w, probe *p, const call *c);

#endif
