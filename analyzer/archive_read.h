/* Streaming reader for peeka archives (docs/format.md): yields the data
 * lines of every data/NNNNNN.jsonl member in order, with session.json and
 * summary.json kept aside.  Memory stays bounded by the longest line. */
#ifndef PA_ARCHIVE_READ_H
#define PA_ARCHIVE_READ_H

#include <stddef.h>
#include <stdint.h>

#define PA_LINE_MAX (16u << 20)   /* longest record line accepted */
#define PA_META_MAX (16u << 20)   /* longest session.json / summary.json */

typedef struct pa_ar pa_ar;

/* Result codes of pa_ar_open / pa_ar_next. */
enum { PA_AR_LINE = 1, PA_AR_END = 0, PA_AR_CORRUPT = -1 };

/* Opens an archive and reads its session.json (the first member).  NULL
 * with a message in err when the file cannot be read as a peeka archive. */
pa_ar *pa_ar_open(const char *path, char *err, size_t errlen);
pa_ar *pa_ar_open_mem(const void *data, size_t len, char *err, size_t errlen);
void pa_ar_close(pa_ar *r);

/* Next data line (without its newline): PA_AR_LINE, PA_AR_END once every
 * member is read (see pa_ar_incomplete), or PA_AR_CORRUPT (see pa_ar_error).
 * The line stays valid until the next call. */
int pa_ar_next(pa_ar *r, const char **line, size_t *len);

const char *pa_ar_session(const pa_ar *r, size_t *len);  /* raw JSON text */
const char *pa_ar_summary(const pa_ar *r, size_t *len);  /* NULL until seen */
const char *pa_ar_member(const pa_ar *r);   /* member of the last line */
uint64_t pa_ar_line_no(const pa_ar *r);     /* 1-based line in that member */
uint64_t pa_ar_lines(const pa_ar *r);       /* data lines so far */
const char *pa_ar_error(const pa_ar *r);
/* After PA_AR_END: NULL for a complete archive, else why it is incomplete. */
const char *pa_ar_incomplete(const pa_ar *r);

#endif
