/* One observation record: its scanned fields, the slots of the fields that
 * filters and scripts use most, and typed accessors over the raw line. */
#ifndef PA_RECORD_H
#define PA_RECORD_H

#include "json_scan.h"

#include <stdint.h>

enum pa_slot {
    PS_TYPE, PS_KIND, PS_FUNC, PS_COST_NS, PS_COST, PS_TS_NS, PS_TIMESTAMP,
    PS_THREAD_ID, PS_THREAD_NAME, PS_LOCATION, PS_SUCCESS, PS_THROW, PS_PROBE,
    PS_SEQ, PS_TOTAL_MS, PS_COUNT
};

typedef struct {
    const char *line;
    size_t len;
    const pa_field *f;
    int nf;
    int16_t slot[PS_COUNT];     /* field index, -1 when absent */
} pa_recview;

/* Slot of a field name, or -1 for a name without one. */
int pa_slot_of(const char *name, size_t len);

/* Fills the slots of a scanned record. */
void pa_recview_init(pa_recview *v, const char *line, size_t len, const pa_field *f, int nf);

/* Typed reads of a slot; 0 when absent or of another type. */
int pa_rec_int(const pa_recview *v, int slot, int64_t *out);     /* integers only */
int pa_rec_num(const pa_recview *v, int slot, double *out);      /* any number */
/* A string field without escapes, in place.  Escaped strings are decoded
 * into buf (of bufsize bytes) when they fit. */
int pa_rec_str(const pa_recview *v, int slot, char *buf, size_t bufsize, const char **s, size_t *len);

/* The call's cost in ns (cost_ns, else cost ms, else total_duration_ms). */
int pa_rec_cost_ns(const pa_recview *v, int64_t *out);
/* The event time in ns (ts_ns, else timestamp seconds). */
int pa_rec_ts_ns(const pa_recview *v, int64_t *out);

#endif
