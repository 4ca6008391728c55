/* Redaction rules applied to a recorded line (the `redact` script, through
 * peeka.redactor): the values the agent would have redacted while
 * recording (docs/format.md "Redaction") are replaced, every other byte
 * of the line is kept as it was. */
#ifndef PA_REDACT_LINE_H
#define PA_REDACT_LINE_H

#include "json_scan.h"
#include "redact.h"
#include "util.h"

typedef struct {
    long values;                /* values replaced in this line */
    int unnamed;                /* params without param_names: all redacted */
} pa_redact_stats;

/* Writes the line s[0..n) (no newline), redacted, to out.  Bit k of
 * record_hidden hides element k of a watch --record line's `record`
 * (the caller decides from the expressions in session.json).  0, or -1
 * with e set when the line is not a JSON object (out is then unusable). */
int pa_redact_line(const peeka_redact *r, const char *s, size_t n, unsigned long long record_hidden,
                   pa_buf *out, pa_redact_stats *st, pa_jerr *e);

#endif
