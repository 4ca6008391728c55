#include "archive_write.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "frame.h"   /* peeka_write_all */

#define TAR_BLOCK 512

struct peeka_aw {
    int fd;
    unsigned mode;              /* the archive's and its members' when closed */
    char *final_path, *partial_path;
    char *stem;                 /* any length: long member names get pax headers */
    ZSTD_CCtx *cctx;
    uint8_t *chunk_mem;         /* headroom, then the chunk, then room for its padding */
    uint8_t *chunk;
    size_t headroom;            /* fits any data member's headers (chunk_headroom) */
    size_t chunk_len;
    uint64_t chunk_lines;
    int64_t chunk_born_ns;
    int64_t flush_ns;           /* a chunk is written once its first record is this old */
    uint64_t nchunks, records, bytes_in, bytes_out;
    uint8_t *zbuf;
    size_t zcap;
    char error[256];
};

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* "dir/capture.tar.zst" -> "capture" (malloc'd, NULL without memory) */
static char *derive_stem(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    const char *suffixes[] = {".tar.zst", ".tzst", ".tar"};
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        size_t k = strlen(suffixes[i]);
        if (n > k && strcmp(base + n - k, suffixes[i]) == 0) {
            n -= k;
            break;
        }
    }
    if (n == 0) { base = "peeka"; n = 5; }
    return strndup(base, n);
}

/* A new file only we can read, whatever the umask: recordings hold
 * arguments (perf does the same for perf.data).  Never through a link or
 * into a file someone else made: a stale .partial of an earlier run is
 * removed and created afresh. */
static int create_private(const char *path)
{
    int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    int fd = open(path, flags, 0600);
    if (fd < 0 && errno == EEXIST && unlink(path) == 0)
        fd = open(path, flags, 0600);
    if (fd < 0)
        return -1;
    if (fchmod(fd, 0600) < 0) {   /* the umask may have taken the owner's bits */
        int e = errno;
        close(fd);
        unlink(path);
        errno = e;
        return -1;
    }
    return fd;
}

#define ROUND_BLOCK(n) (((n) + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK)

/* The most a data member's headers take (member_head): a pax header and
 * its record (the name, "STEM/data/N.jsonl" with N up to 20 digits, and
 * at most 32 more bytes), then the ustar header. */
static size_t chunk_headroom(size_t stemlen)
{
    return 2 * TAR_BLOCK + ROUND_BLOCK(stemlen + sizeof "/data/.jsonl" + 20 + 32);
}

peeka_aw *peeka_aw_open(const char *final_path, const char *stem, int level, char *err, size_t errlen)
{
    peeka_aw *w = calloc(1, sizeof *w);
    size_t plen = strlen(final_path) + sizeof ".partial";
    if (!w || !(w->final_path = strdup(final_path)) || !(w->partial_path = malloc(plen)) ||
        !(w->cctx = ZSTD_createCCtx())) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    snprintf(w->partial_path, plen, "%s.partial", final_path);
    if (!(w->stem = stem ? strdup(stem) : derive_stem(final_path))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    w->headroom = chunk_headroom(strlen(w->stem));
    if (!(w->chunk_mem = malloc(w->headroom + PEEKA_CHUNK_BYTES + TAR_BLOCK))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    w->chunk = w->chunk_mem + w->headroom;
    /* Level 1 with a hash table of 2^11 entries (its own has 2^14): the newest
     * position of a sequence wins its slot sooner, and in records the
     * best match is most often the line before.  7-8% fewer bytes on the
     * benchmark's records, 2% on a varied workload; smaller tables lose
     * on varied records (docs/architecture.md "Where the time goes"). */
    size_t zr = ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, level);
    if (!ZSTD_isError(zr) && level == 1)
        zr = ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_hashLog, 11);
    if (ZSTD_isError(zr)) {
        snprintf(err, errlen, "zstd level %d: %s", level, ZSTD_getErrorName(zr));
        goto fail;
    }
    /* a whole chunk member in one ZSTD_compress2 (write_chunk_member) */
    w->zcap = ZSTD_compressBound(w->headroom + PEEKA_CHUNK_BYTES + TAR_BLOCK);
    if (!(w->zbuf = malloc(w->zcap))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    w->mode = PEEKA_AW_MODE;
    if ((w->fd = create_private(w->partial_path)) < 0) {
        snprintf(err, errlen, "cannot create %s: %s", w->partial_path, strerror(errno));
        goto fail;
    }
    return w;
fail:
    if (w) {
        ZSTD_freeCCtx(w->cctx);
        free(w->zbuf); free(w->chunk_mem); free(w->stem); free(w->partial_path); free(w->final_path);
        free(w);
    }
    return NULL;
}

static void octal(char *dst, size_t width, uint64_t v)
{
    /* width-1 digits and a NUL, as tar expects */
    dst[width - 1] = 0;
    for (size_t i = width - 1; i-- > 0; v >>= 3)
        dst[i] = (char)('0' + (v & 7));
}

/* A ustar header; name is cut to the 100 bytes of its field (the caller
 * puts the whole name in a pax header before it when it is longer). */
static void tar_header(uint8_t h[TAR_BLOCK], const char *name, size_t namelen, char type,
                       uint64_t size, unsigned mode)
{
    memset(h, 0, TAR_BLOCK);
    memcpy(h, name, namelen < 100 ? namelen : 100);
    octal((char *)h + 100, 8, mode);
    octal((char *)h + 108, 8, 0);
    octal((char *)h + 116, 8, 0);
    octal((char *)h + 124, 12, size);
    octal((char *)h + 136, 12, (uint64_t)time(NULL));
    h[156] = (uint8_t)type;
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memcpy(h + 265, "peeka", 5);
    memcpy(h + 297, "peeka", 5);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < TAR_BLOCK; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    h[155] = ' ';
}

/* The pax extended header record "LEN path=NAME\n" (POSIX.1-2001), LEN
 * counting itself; GNU tar, libarchive (peeka-analyze) and Python's
 * tarfile all read it.  Returns the record's length, 0 if it does not fit. */
static size_t pax_path_record(char *out, size_t outlen, const char *name, size_t namelen)
{
    size_t base = sizeof " path=" - 1 + namelen + 1, len = base + 1;
    for (size_t digits = 1; ; digits++) {
        len = base + digits;
        size_t d = 1;
        for (size_t v = len; v >= 10; v /= 10)
            d++;
        if (d == digits)
            break;
    }
    if (len > outlen)
        return 0;
    int k = snprintf(out, outlen, "%zu path=", len);
    if (k < 0 || (size_t)k + namelen + 1 != len)
        return 0;
    memcpy(out + k, name, namelen);
    out[len - 1] = '\n';
    return len;
}

static int fail(peeka_aw *w, const char *what, int err)
{
    snprintf(w->error, sizeof w->error, "%s %s: %s", what, w->partial_path, strerror(err));
    return -1;
}

static int compress_part(peeka_aw *w, const void *src, size_t len, ZSTD_EndDirective end)
{
    ZSTD_inBuffer in = {src, len, 0};
    for (;;) {
        ZSTD_outBuffer out = {w->zbuf, w->zcap, 0};
        size_t left = ZSTD_compressStream2(w->cctx, &out, &in, end);
        if (ZSTD_isError(left)) {
            snprintf(w->error, sizeof w->error, "zstd: %s", ZSTD_getErrorName(left));
            return -1;
        }
        if (out.pos && peeka_write_all(w->fd, w->zbuf, out.pos) != PFE_OK)
            return fail(w, "cannot write", errno);
        w->bytes_out += out.pos;
        if (end == ZSTD_e_end ? left == 0 : in.pos == in.size)
            return 0;
    }
}

/* A member's headers for a body of len bytes: a pax header and its record
 * first when the name does not fit ustar's 100 bytes, then the ustar
 * header.  Malloc'd into *out; returns their length, 0 without memory. */
static size_t member_head(peeka_aw *w, const char *name, size_t len, uint8_t **out)
{
    size_t stemlen = strlen(w->stem), namelen = strlen(name);
    size_t fulllen = stemlen + 1 + namelen, cap = 2 * TAR_BLOCK + ROUND_BLOCK(fulllen + 32);
    char *full = malloc(fulllen + 1);
    uint8_t *h = malloc(cap);
    size_t n = 0;
    if (!full || !h)
        goto done;
    memcpy(full, w->stem, stemlen);
    full[stemlen] = '/';
    memcpy(full + stemlen + 1, name, namelen + 1);
    if (fulllen >= 100) {   /* ustar's name field is 100 bytes: a pax header first */
        size_t rlen = pax_path_record((char *)h + TAR_BLOCK, fulllen + 32, full, fulllen);
        if (!rlen)
            goto done;
        tar_header(h, "././@PaxHeader", sizeof "././@PaxHeader" - 1, 'x', rlen, w->mode);
        memset(h + TAR_BLOCK + rlen, 0, ROUND_BLOCK(rlen) - rlen);
        n = TAR_BLOCK + ROUND_BLOCK(rlen);
    }
    tar_header(h + n, full, fulllen, '0', len, w->mode);
    n += TAR_BLOCK;
done:
    free(full);
    if (!n) {
        free(h);
        snprintf(w->error, sizeof w->error, "out of memory");
        return 0;
    }
    *out = h;
    return n;
}

/* headers + body + padding (+ the end-of-archive blocks) as one zstd frame */
static int write_member(peeka_aw *w, const char *name, const void *data, size_t len, int last)
{
    static const uint8_t zeros[3 * TAR_BLOCK];
    uint8_t *head;
    size_t hlen = member_head(w, name, len, &head);
    if (!hlen)
        return -1;
    size_t pad = (TAR_BLOCK - len % TAR_BLOCK) % TAR_BLOCK;
    int rc = compress_part(w, head, hlen, ZSTD_e_continue) < 0 ||
             compress_part(w, data, len, ZSTD_e_continue) < 0 ||
             compress_part(w, zeros, pad + (last ? 2 * TAR_BLOCK : 0), ZSTD_e_end) < 0 ? -1 : 0;
    free(head);
    if (rc < 0)
        ZSTD_CCtx_reset(w->cctx, ZSTD_reset_session_only);
    return rc;
}

/* The pending chunk as one member, its headers put in the headroom before
 * it and its padding after, compressed with one ZSTD_compress2: streaming
 * it in parts made zstd copy the whole chunk into its own buffer first
 * (docs/architecture.md "Where the time goes"). */
static int write_chunk_member(peeka_aw *w, const char *name)
{
    uint8_t *head;
    size_t hlen = member_head(w, name, w->chunk_len, &head);
    if (!hlen)
        return -1;
    size_t pad = (TAR_BLOCK - w->chunk_len % TAR_BLOCK) % TAR_BLOCK;
    if (hlen > w->headroom) {   /* cannot be (chunk_headroom): but never write out of bounds */
        free(head);
        return write_member(w, name, w->chunk, w->chunk_len, 0);
    }
    uint8_t *start = w->chunk - hlen;
    memcpy(start, head, hlen);
    free(head);
    memset(w->chunk + w->chunk_len, 0, pad);
    size_t z = ZSTD_compress2(w->cctx, w->zbuf, w->zcap, start, hlen + w->chunk_len + pad);
    if (ZSTD_isError(z)) {
        snprintf(w->error, sizeof w->error, "zstd: %s", ZSTD_getErrorName(z));
        ZSTD_CCtx_reset(w->cctx, ZSTD_reset_session_only);
        return -1;
    }
    if (peeka_write_all(w->fd, w->zbuf, z) != PFE_OK)
        return fail(w, "cannot write", errno);
    w->bytes_out += z;
    return 0;
}

int peeka_aw_member(peeka_aw *w, const char *name, const void *data, size_t len)
{
    return write_member(w, name, data, len, 0);
}

/* One data member from data: the pending chunk, or one oversized line. */
static int write_chunk(peeka_aw *w, const void *data, size_t len, uint64_t lines)
{
    char name[32];
    snprintf(name, sizeof name, "data/%06llu.jsonl", (unsigned long long)(w->nchunks + 1));
    if ((data == w->chunk ? write_chunk_member(w, name) : write_member(w, name, data, len, 0)) < 0)
        return -1;
    w->nchunks++;
    w->records += lines;
    return 0;
}

int peeka_aw_flush(peeka_aw *w)
{
    if (!w->chunk_len)
        return 0;
    if (write_chunk(w, w->chunk, w->chunk_len, w->chunk_lines) < 0)
        return -1;
    w->chunk_len = 0;
    w->chunk_lines = 0;
    return 0;
}

static uint64_t count_lines(const uint8_t *p, size_t len)
{
    uint64_t n = 0;
    for (const uint8_t *end = p + len; (p = memchr(p, '\n', (size_t)(end - p))); p++)
        n++;
    return n;
}

/* A batch of any size is cut at line boundaries: the whole lines that fit
 * in the pending chunk go in with one copy (not one per line: at a million
 * records a second the calls showed in the profile); a full chunk is
 * written; a line longer than a whole chunk becomes a member of its own. */
int peeka_aw_append_records(peeka_aw *w, const void *jsonl, size_t len)
{
    const uint8_t *p = jsonl, *end = p + len;
    if (len && end[-1] != '\n') {
        snprintf(w->error, sizeof w->error, "a record batch does not end with a newline");
        return -1;
    }
    while (p < end) {
        size_t room = PEEKA_CHUNK_BYTES - w->chunk_len, take = (size_t)(end - p);
        if (take > room) {
            const uint8_t *nl = memrchr(p, '\n', room);
            take = nl ? (size_t)(nl - p) + 1 : 0;
        }
        if (!take && w->chunk_len) {   /* not even one more line fits */
            if (peeka_aw_flush(w) < 0)
                return -1;
            continue;
        }
        if (!take) {   /* longer than a chunk: found, end[-1] is a newline */
            size_t l = (size_t)((const uint8_t *)memchr(p, '\n', (size_t)(end - p)) - p) + 1;
            if (write_chunk(w, p, l, 1) < 0)
                return -1;
            w->bytes_in += l;
            p += l;
            continue;
        }
        if (!w->chunk_len)
            w->chunk_born_ns = mono_ns();
        memcpy(w->chunk + w->chunk_len, p, take);
        w->chunk_len += take;
        w->chunk_lines += count_lines(p, take);
        w->bytes_in += take;
        p += take;
    }
    return 0;
}

void peeka_aw_set_flush_ns(peeka_aw *w, int64_t ns)
{
    w->flush_ns = ns;
}

int peeka_aw_flush_due(peeka_aw *w, int64_t now_ns)
{
    if (w->chunk_len && now_ns - w->chunk_born_ns >= (w->flush_ns ? w->flush_ns : PEEKA_CHUNK_NS))
        return peeka_aw_flush(w);
    return 0;
}

static void aw_free(peeka_aw *w)
{
    ZSTD_freeCCtx(w->cctx);
    free(w->zbuf);
    free(w->chunk_mem);
    free(w->stem);
    free(w->partial_path);
    free(w->final_path);
    free(w);
}

int peeka_aw_close(peeka_aw *w, const void *summary, size_t len, char *err, size_t errlen)
{
    int rc = -1;
    if (peeka_aw_flush(w) < 0 || write_member(w, "summary.json", summary, len, 1) < 0)
        snprintf(err, errlen, "%s", w->error);
    else if (w->mode != 0600 && fchmod(w->fd, w->mode) < 0)
        snprintf(err, errlen, "cannot set the mode of %s to %04o: %s", w->partial_path, w->mode,
                 strerror(errno));
    else if (fsync(w->fd) < 0)
        snprintf(err, errlen, "cannot sync %s: %s", w->partial_path, strerror(errno));
    else if (close(w->fd) < 0)
        snprintf(err, errlen, "cannot close %s: %s", w->partial_path, strerror(errno));
    else if ((w->fd = -1, rename(w->partial_path, w->final_path) < 0))
        snprintf(err, errlen, "cannot rename %s to %s: %s", w->partial_path, w->final_path,
                 strerror(errno));
    else
        rc = 0;
    if (w->fd >= 0)
        close(w->fd);
    aw_free(w);
    return rc;
}

void peeka_aw_abort(peeka_aw *w)
{
    if (w->fd >= 0) {
        if (fsync(w->fd) < 0) { /* best effort: the data is in the page cache */ }
        close(w->fd);
    }
    aw_free(w);
}

void peeka_aw_discard(peeka_aw *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    unlink(w->partial_path);
    aw_free(w);
}

void peeka_aw_set_mode(peeka_aw *w, unsigned mode)
{
    w->mode = mode;
}

uint64_t peeka_aw_records(const peeka_aw *w) { return w->records + w->chunk_lines; }
uint64_t peeka_aw_chunks(const peeka_aw *w) { return w->nchunks; }
uint64_t peeka_aw_bytes_in(const peeka_aw *w) { return w->bytes_in; }
uint64_t peeka_aw_bytes_out(const peeka_aw *w) { return w->bytes_out; }
const char *peeka_aw_partial_path(const peeka_aw *w) { return w->partial_path; }
const char *peeka_aw_error(const peeka_aw *w) { return w->error; }
