/* libFuzzer target for the archive reader (analyzer/zsrc.c, archive_read.c)
 * and the record scanner (analyzer/json_scan.c, record.c).  Input: the
 * bytes of a would-be .tar.zst.  Whatever the bytes, the reader must end
 * cleanly (lines, then END or CORRUPT), lines must respect the line limit,
 * and the scanner's field spans must lie inside the line. */
#include "archive_read.h"
#include "json_scan.h"
#include "record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond) do { if (!(cond)) { \
    fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); abort(); } } while (0)

static void scan_line(const char *line, size_t len)
{
    static pa_field f[PA_MAX_FIELDS];
    pa_jerr e = {0};
    int nf = pa_scan_object(line, len, f, PA_MAX_FIELDS, &e);
    if (nf < 0) {
        CHECK(e.msg != NULL && e.off <= len);
        return;
    }
    pa_recview v;
    pa_recview_init(&v, line, len, f, nf);
    for (int i = 0; i < nf; i++) {
        CHECK((size_t)f[i].koff + f[i].klen <= len);
        CHECK((size_t)f[i].voff + f[i].vlen <= len);
        if (f[i].type == PA_J_STR) {
            char *out = malloc(f[i].vlen + 1);
            CHECK(out != NULL);
            long n = pa_json_unescape(line + f[i].voff, f[i].vlen, out);
            CHECK(n <= (long)f[i].vlen);
            free(out);
        }
    }
    int64_t x;
    (void)pa_rec_cost_ns(&v, &x);
    (void)pa_rec_ts_ns(&v, &x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[600];
    pa_ar *r = pa_ar_open_mem(data, size, err, sizeof err);
    if (!r) {
        CHECK(err[0] != '\0');
        return 0;
    }
    size_t slen;
    CHECK(pa_ar_session(r, &slen) != NULL);
    const char *line;
    size_t len;
    int rc;
    uint64_t lines = 0;
    while ((rc = pa_ar_next(r, &line, &len)) == PA_AR_LINE) {
        CHECK(len <= PA_LINE_MAX);
        lines++;
        scan_line(line, len);
    }
    CHECK(rc == PA_AR_END || rc == PA_AR_CORRUPT);
    if (rc == PA_AR_CORRUPT)
        CHECK(pa_ar_error(r) != NULL);
    CHECK(pa_ar_lines(r) == lines);
    CHECK(pa_ar_next(r, &line, &len) == rc);     /* stays at the end */
    pa_ar_close(r);
    return 0;
}
