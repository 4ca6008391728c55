/* Streaming peeka archive reader: see archive_read.h.
 * zstd is decoded by zsrc.c (it knows about truncated frames); libarchive
 * only parses tar from the decompressed bytes, block by block. */
#include "archive_read.h"
#include "zsrc.h"

#include <archive.h>
#include <archive_entry.h>
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum member_kind { M_OTHER, M_SESSION, M_DATA, M_SUMMARY };

struct pa_ar {
    struct archive *a;
    pa_zsrc *z;
    char member[256];
    uint64_t line_no, lines;
    int in_data, done, carry_used;
    const char *blk;
    size_t blk_len, blk_pos;
    char *carry;
    size_t carry_len, carry_cap;
    char *session, *summary;
    size_t session_len, summary_len;
    long long summary_records;      /* -1 when the summary does not say */
    char err[512];
    char incomplete[512];
};

static la_ssize_t read_cb(struct archive *a, void *ud, const void **buf)
{
    pa_ar *r = ud;
    ssize_t n = pa_zsrc_read(r->z, buf);
    if (n < 0) {
        archive_set_error(a, EIO, "%s", pa_zsrc_error(r->z));
        return -1;
    }
    return n;
}

static const char *last_component(const char *name, const char **dir, size_t *dirlen)
{
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    *dir = NULL;
    *dirlen = 0;
    if (slash) {
        const char *p = slash;
        while (p > name && p[-1] != '/')
            p--;
        *dir = p;
        *dirlen = (size_t)(slash - p);
    }
    return base;
}

static enum member_kind classify(const char *name)
{
    const char *dir;
    size_t dirlen, blen;
    const char *base = last_component(name, &dir, &dirlen);
    blen = strlen(base);
    if (strcmp(base, "session.json") == 0)
        return M_SESSION;
    if (strcmp(base, "summary.json") == 0)
        return M_SUMMARY;
    if (dir && dirlen == 4 && memcmp(dir, "data", 4) == 0 && blen > 6 &&
        strcmp(base + blen - 6, ".jsonl") == 0)
        return M_DATA;
    return M_OTHER;
}

/* Shortens a member name for messages: "STEM/data/000001.jsonl". */
static void set_member(pa_ar *r, const char *name)
{
    size_t n = strlen(name);
    if (n >= sizeof r->member)
        name += n - (sizeof r->member - 1);
    snprintf(r->member, sizeof r->member, "%s", name);
}

/* A libarchive failure: truncation (analysable) or corruption. */
static int stream_failed(pa_ar *r, const char *doing)
{
    const char *zerr = pa_zsrc_error(r->z);
    const char *aerr = archive_error_string(r->a);
    r->done = 1;
    r->in_data = 0;
    if (!zerr && (pa_zsrc_truncated(r->z) || (aerr && strstr(aerr, "runcated")))) {
        snprintf(r->incomplete, sizeof r->incomplete,
                 "the archive is truncated (cut short in member %s)",
                 r->member[0] ? r->member : "(first)");
        return PA_AR_END;
    }
    snprintf(r->err, sizeof r->err, "%s%s", doing,
             zerr ? zerr : (aerr ? aerr : "unknown libarchive error"));
    return PA_AR_CORRUPT;
}

/* Reads a whole (small) member into a NUL-terminated buffer. */
static int read_whole(pa_ar *r, struct archive_entry *e, char **out, size_t *outlen)
{
    size_t cap = 4096, len = 0;
    if (archive_entry_size_is_set(e) && archive_entry_size(e) > (la_int64_t)PA_META_MAX) {
        snprintf(r->err, sizeof r->err, "member %s is larger than %u MiB", r->member, PA_META_MAX >> 20);
        r->done = 1;
        return PA_AR_CORRUPT;
    }
    char *buf = malloc(cap);
    if (!buf) {
        snprintf(r->err, sizeof r->err, "out of memory");
        r->done = 1;
        return PA_AR_CORRUPT;
    }
    for (;;) {
        if (cap - len < 4096) {
            if (cap >= PA_META_MAX) {
                free(buf);
                snprintf(r->err, sizeof r->err, "member %s is larger than %u MiB", r->member,
                         PA_META_MAX >> 20);
                r->done = 1;
                return PA_AR_CORRUPT;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                snprintf(r->err, sizeof r->err, "out of memory");
                r->done = 1;
                return PA_AR_CORRUPT;
            }
            buf = nb;
            cap *= 2;
        }
        la_ssize_t n = archive_read_data(r->a, buf + len, cap - len - 1);
        if (n < 0) {
            free(buf);
            char doing[300];
            snprintf(doing, sizeof doing, "reading member %s: ", r->member);
            return stream_failed(r, doing);
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return 1;
}

static int check_session(pa_ar *r)
{
    cJSON *j = cJSON_ParseWithLength(r->session, r->session_len);
    int ok = 0;
    if (!j || !cJSON_IsObject(j)) {
        snprintf(r->err, sizeof r->err, "member %s is not a JSON object", r->member);
    } else {
        cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "format");
        cJSON *ver = cJSON_GetObjectItemCaseSensitive(j, "format_version");
        if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "peeka-archive") != 0)
            snprintf(r->err, sizeof r->err,
                     "session.json lacks \"format\": \"peeka-archive\": not a peeka archive");
        else if (!cJSON_IsNumber(ver) || ver->valuedouble < 1)
            snprintf(r->err, sizeof r->err, "session.json has no valid \"format_version\"");
        else if (ver->valuedouble > 1)
            snprintf(r->err, sizeof r->err,
                     "format_version %g is newer than this peeka-analyze reads (1): use a newer peeka-analyze",
                     ver->valuedouble);
        else
            ok = 1;
    }
    cJSON_Delete(j);
    if (!ok)
        r->done = 1;
    return ok ? 1 : PA_AR_CORRUPT;
}

static int check_summary(pa_ar *r)
{
    cJSON *j = cJSON_ParseWithLength(r->summary, r->summary_len);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        snprintf(r->err, sizeof r->err, "member %s is not a JSON object", r->member);
        r->done = 1;
        return PA_AR_CORRUPT;
    }
    cJSON *complete = cJSON_GetObjectItemCaseSensitive(j, "complete");
    cJSON *records = cJSON_GetObjectItemCaseSensitive(j, "records");
    cJSON *reason = cJSON_GetObjectItemCaseSensitive(j, "reason");
    if (cJSON_IsNumber(records))
        r->summary_records = (long long)records->valuedouble;
    if (cJSON_IsFalse(complete))
        snprintf(r->incomplete, sizeof r->incomplete, "summary.json says complete: false (reason: %s)",
                 cJSON_IsString(reason) ? reason->valuestring : "not given");
    cJSON_Delete(j);
    return 1;
}

/* Advances to the next member; 1 when one is ready, 0 at the end. */
static int next_member(pa_ar *r, int first)
{
    for (;;) {
        struct archive_entry *e;
        int rc = archive_read_next_header(r->a, &e);
        if (rc == ARCHIVE_EOF) {
            if (first) {
                snprintf(r->err, sizeof r->err, "the tar archive has no members: not a peeka archive");
                r->done = 1;
                return PA_AR_CORRUPT;
            }
            return 0;
        }
        if (rc < ARCHIVE_WARN)
            return stream_failed(r, first ? "not a tar archive inside the zstd stream: " : "");
        const char *name = archive_entry_pathname(e);
        if (!name)
            name = "(unnamed)";
        set_member(r, name);
        enum member_kind k = archive_entry_filetype(e) == AE_IFREG ? classify(name) : M_OTHER;
        if (first && k != M_SESSION) {
            snprintf(r->err, sizeof r->err,
                     "first member is '%s', not STEM/session.json: not a peeka archive", r->member);
            r->done = 1;
            return PA_AR_CORRUPT;
        }
        if (k == M_SESSION && first) {
            rc = read_whole(r, e, &r->session, &r->session_len);
            if (rc == PA_AR_END && !r->err[0])
                snprintf(r->err, sizeof r->err, "the archive is truncated inside session.json");
            return rc == 1 ? check_session(r) : PA_AR_CORRUPT;
        }
        if (k == M_SUMMARY) {
            free(r->summary);
            r->summary = NULL;
            rc = read_whole(r, e, &r->summary, &r->summary_len);
            if (rc <= 0)
                return rc;
            if (check_summary(r) < 0)
                return PA_AR_CORRUPT;
            continue;
        }
        if (k == M_DATA) {
            r->in_data = 1;
            r->line_no = 0;
            r->blk_len = r->blk_pos = 0;
            return 1;
        }
        /* Unknown members (and a repeated session.json) are ignored. */
    }
}

static void finish(pa_ar *r)
{
    r->done = 1;
    if (r->incomplete[0])
        return;
    if (pa_zsrc_truncated(r->z))
        snprintf(r->incomplete, sizeof r->incomplete,
                 "the archive is truncated (its last zstd frame is cut short)%s",
                 r->summary ? "" : " and has no summary.json");
    else if (!r->summary)
        snprintf(r->incomplete, sizeof r->incomplete,
                 "no summary.json: the recording did not finish (recorder stopped or killed)");
    else if (r->summary_records >= 0 && (uint64_t)r->summary_records != r->lines)
        snprintf(r->incomplete, sizeof r->incomplete,
                 "summary.json counts %lld records but the data members hold %llu",
                 r->summary_records, (unsigned long long)r->lines);
}

static pa_ar *ar_start(pa_zsrc *z, char *err, size_t errlen)
{
    pa_ar *r = calloc(1, sizeof *r);
    if (!r) {
        pa_zsrc_close(z);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->z = z;
    r->summary_records = -1;
    r->a = archive_read_new();
    if (!r->a || archive_read_support_format_tar(r->a) != ARCHIVE_OK ||
        archive_read_open(r->a, r, NULL, read_cb, NULL) != ARCHIVE_OK) {
        snprintf(err, errlen, "cannot start reading: %s",
                 r->a ? archive_error_string(r->a) : "out of memory");
        pa_ar_close(r);
        return NULL;
    }
    int rc = next_member(r, 1);
    if (rc != 1) {
        snprintf(err, errlen, "%s", r->err[0] ? r->err : r->incomplete[0] ?
                 "the archive is truncated before the end of session.json" : "no session.json");
        pa_ar_close(r);
        return NULL;
    }
    r->member[0] = '\0';
    return r;
}

pa_ar *pa_ar_open(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s", S_ISDIR(st.st_mode) ? "is a directory, not an archive"
                                                         : "not a regular file");
        close(fd);
        return NULL;
    }
    pa_zsrc *z = pa_zsrc_open_fd(fd, err, errlen);
    return z ? ar_start(z, err, errlen) : NULL;
}

pa_ar *pa_ar_open_mem(const void *data, size_t len, char *err, size_t errlen)
{
    pa_zsrc *z = pa_zsrc_open_mem(data, len, err, errlen);
    return z ? ar_start(z, err, errlen) : NULL;
}

void pa_ar_close(pa_ar *r)
{
    if (!r)
        return;
    if (r->a)
        archive_read_free(r->a);
    pa_zsrc_close(r->z);
    free(r->carry);
    free(r->session);
    free(r->summary);
    free(r);
}

static int carry_append(pa_ar *r, const char *p, size_t n)
{
    if (r->carry_len + n > PA_LINE_MAX) {
        snprintf(r->err, sizeof r->err,
                 "member %s line %llu is longer than %u MiB (the line limit): "
                 "the archive is corrupt or was not written by peeka",
                 r->member, (unsigned long long)(r->line_no + 1), PA_LINE_MAX >> 20);
        r->done = 1;
        return -1;
    }
    if (r->carry_len + n > r->carry_cap) {
        size_t cap = r->carry_cap ? r->carry_cap : 4096;
        while (cap < r->carry_len + n)
            cap *= 2;
        char *nc = realloc(r->carry, cap);
        if (!nc) {
            snprintf(r->err, sizeof r->err, "out of memory");
            r->done = 1;
            return -1;
        }
        r->carry = nc;
        r->carry_cap = cap;
    }
    memcpy(r->carry + r->carry_len, p, n);
    r->carry_len += n;
    return 0;
}

static int is_blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return 0;
    return 1;
}

/* Hands out one line; blank lines are skipped (but counted). */
static int emit(pa_ar *r, const char *p, size_t n, const char **line, size_t *len)
{
    r->line_no++;
    if (n > 0 && p[n - 1] == '\r')
        n--;
    if (is_blank(p, n))
        return 0;
    r->lines++;
    *line = p;
    *len = n;
    return 1;
}

int pa_ar_next(pa_ar *r, const char **line, size_t *len)
{
    if (r->carry_used) {
        r->carry_len = 0;
        r->carry_used = 0;
    }
    for (;;) {
        if (r->done)
            return r->err[0] ? PA_AR_CORRUPT : PA_AR_END;
        if (!r->in_data) {
            int rc = next_member(r, 0);
            if (rc < 0)
                return rc;
            if (rc == 0)
                finish(r);
            continue;
        }
        if (r->blk_pos < r->blk_len) {
            const char *p = r->blk + r->blk_pos;
            size_t rem = r->blk_len - r->blk_pos;
            const char *nl = memchr(p, '\n', rem);
            if (!nl) {
                if (carry_append(r, p, rem) < 0)
                    return PA_AR_CORRUPT;
                r->blk_pos = r->blk_len;
                continue;
            }
            size_t n = (size_t)(nl - p);
            r->blk_pos += n + 1;
            if (r->carry_len) {
                if (carry_append(r, p, n) < 0)
                    return PA_AR_CORRUPT;
                r->carry_used = 1;
                if (emit(r, r->carry, r->carry_len, line, len))
                    return PA_AR_LINE;
                r->carry_len = 0;
                r->carry_used = 0;
                continue;
            }
            if (emit(r, p, n, line, len))
                return PA_AR_LINE;
            continue;
        }
        const void *buf;
        size_t size;
        la_int64_t off;
        int rc = archive_read_data_block(r->a, &buf, &size, &off);
        if (rc == ARCHIVE_EOF) {
            r->in_data = 0;
            if (r->carry_len) {     /* a last line without its newline */
                r->carry_used = 1;
                if (emit(r, r->carry, r->carry_len, line, len))
                    return PA_AR_LINE;
                r->carry_len = 0;
                r->carry_used = 0;
            }
            continue;
        }
        if (rc < ARCHIVE_WARN) {
            char doing[300];
            snprintf(doing, sizeof doing, "reading member %s: ", r->member);
            r->carry_len = 0;   /* a cut line is dropped */
            return stream_failed(r, doing);
        }
        r->blk = buf;
        r->blk_len = size;
        r->blk_pos = 0;
    }
}

const char *pa_ar_session(const pa_ar *r, size_t *len)
{
    *len = r->session_len;
    return r->session;
}

const char *pa_ar_summary(const pa_ar *r, size_t *len)
{
    *len = r->summary_len;
    return r->summary;
}

const char *pa_ar_member(const pa_ar *r) { return r->member; }
uint64_t pa_ar_line_no(const pa_ar *r) { return r->line_no; }
uint64_t pa_ar_lines(const pa_ar *r) { return r->lines; }
const char *pa_ar_error(const pa_ar *r) { return r->err[0] ? r->err : NULL; }
const char *pa_ar_incomplete(const pa_ar *r) { return r->incomplete[0] ? r->incomplete : NULL; }
