/* zstd decompression source: see zsrc.h. */
#include "zsrc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

struct pa_zsrc {
    int fd;                     /* -1 for a memory source */
    const unsigned char *mem;
    size_t mem_len, mem_pos;
    ZSTD_DCtx *dctx;
    unsigned char *in;
    size_t in_cap;
    ZSTD_inBuffer inb;
    unsigned char *out;
    size_t out_cap;
    uint64_t offset, frames;
    int in_eof, mid_frame, truncated;
    char err[256];
};

static const unsigned char ZSTD_MAGIC[4] = {0x28, 0xB5, 0x2F, 0xFD};

const char *pa_sniff_format(const unsigned char *p, size_t n)
{
    if (n == 0)
        return "an empty file";
    if (n >= 2 && p[0] == 0x1F && p[1] == 0x8B)
        return "gzip-compressed data";
    if (n >= 6 && memcmp(p, "\xFD" "7zXZ", 5) == 0)
        return "xz-compressed data";
    if (n >= 3 && memcmp(p, "BZh", 3) == 0)
        return "bzip2-compressed data";
    if (n >= 262 && memcmp(p + 257, "ustar", 5) == 0)
        return "an uncompressed tar archive";
    if (n >= 4 && (p[0] & 0xF0) == 0x50 && p[1] == 0x2A && p[2] == 0x4D && p[3] == 0x18)
        return NULL;            /* zstd skippable frame: fine */
    if (n >= 4 && memcmp(p, ZSTD_MAGIC, 4) == 0)
        return NULL;
    return "not zstd-compressed data";
}

static pa_zsrc *zsrc_new(char *err, size_t errlen)
{
    pa_zsrc *z = calloc(1, sizeof *z);
    if (!z) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    z->fd = -1;
    z->dctx = ZSTD_createDCtx();
    z->out_cap = ZSTD_DStreamOutSize();
    z->out = malloc(z->out_cap);
    if (!z->dctx || !z->out) {
        snprintf(err, errlen, "out of memory");
        pa_zsrc_close(z);
        return NULL;
    }
    return z;
}

/* Refills the input buffer from the fd; sets in_eof at the end. */
static int refill(pa_zsrc *z)
{
    if (z->fd < 0) {
        if (z->inb.src == NULL) {
            z->inb.src = z->mem;
            z->inb.size = z->mem_len;
            z->inb.pos = 0;
        } else {
            z->in_eof = 1;
        }
        return 0;
    }
    for (;;) {
        ssize_t n = read(z->fd, z->in, z->in_cap);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(z->err, sizeof z->err, "read failed: %s", strerror(errno));
            return -1;
        }
        z->inb.src = z->in;
        z->inb.size = (size_t)n;
        z->inb.pos = 0;
        if (n == 0)
            z->in_eof = 1;
        return 0;
    }
}

/* Checks the first bytes: a clear message for gzip, plain tar, empty... */
static int check_magic(pa_zsrc *z, char *err, size_t errlen)
{
    if (refill(z) < 0) {
        snprintf(err, errlen, "%s", z->err);
        return -1;
    }
    const char *what = pa_sniff_format(z->inb.src, z->inb.size - z->inb.pos);
    if (what) {
        snprintf(err, errlen, "%s, not a peeka archive (peeka archives are zstd-compressed tar, .tar.zst)",
                 what);
        return -1;
    }
    return 0;
}

pa_zsrc *pa_zsrc_open_fd(int fd, char *err, size_t errlen)
{
    pa_zsrc *z = zsrc_new(err, errlen);
    if (!z) {
        close(fd);
        return NULL;
    }
    z->fd = fd;
    z->in_cap = ZSTD_DStreamInSize();
    if (z->in_cap < 65536)
        z->in_cap = 65536;
    z->in = malloc(z->in_cap);
    if (!z->in) {
        snprintf(err, errlen, "out of memory");
        pa_zsrc_close(z);
        return NULL;
    }
    if (check_magic(z, err, errlen) < 0) {
        pa_zsrc_close(z);
        return NULL;
    }
    return z;
}

pa_zsrc *pa_zsrc_open_mem(const void *data, size_t len, char *err, size_t errlen)
{
    pa_zsrc *z = zsrc_new(err, errlen);
    if (!z)
        return NULL;
    z->mem = data;
    z->mem_len = len;
    if (check_magic(z, err, errlen) < 0) {
        pa_zsrc_close(z);
        return NULL;
    }
    return z;
}

void pa_zsrc_close(pa_zsrc *z)
{
    if (!z)
        return;
    if (z->fd >= 0)
        close(z->fd);
    ZSTD_freeDCtx(z->dctx);
    free(z->in);
    free(z->out);
    free(z);
}

ssize_t pa_zsrc_read(pa_zsrc *z, const void **buf)
{
    if (z->err[0])
        return -1;
    for (;;) {
        if (z->inb.pos == z->inb.size && !z->in_eof && refill(z) < 0)
            return -1;
        int no_input = z->inb.pos == z->inb.size;
        if (no_input && z->in_eof && !z->mid_frame)
            return 0;
        ZSTD_outBuffer ob = {z->out, z->out_cap, 0};
        size_t before = z->inb.pos;
        size_t r = ZSTD_decompressStream(z->dctx, &ob, &z->inb);
        if (ZSTD_isError(r)) {
            snprintf(z->err, sizeof z->err, "corrupt zstd data near compressed byte %llu: %s",
                     (unsigned long long)(z->offset + z->inb.pos - before), ZSTD_getErrorName(r));
            return -1;
        }
        z->offset += z->inb.pos - before;
        if (r == 0 && z->mid_frame + (ob.pos > 0) + (z->inb.pos > before) > 0)
            z->frames++;
        z->mid_frame = r != 0;
        if (ob.pos > 0) {
            *buf = z->out;
            return (ssize_t)ob.pos;
        }
        if (z->inb.pos == z->inb.size && z->in_eof) {
            if (z->mid_frame)
                z->truncated = 1;
            return 0;
        }
    }
}

int pa_zsrc_truncated(const pa_zsrc *z) { return z->truncated; }
const char *pa_zsrc_error(const pa_zsrc *z) { return z->err[0] ? z->err : NULL; }
uint64_t pa_zsrc_offset(const pa_zsrc *z) { return z->offset; }
uint64_t pa_zsrc_frames(const pa_zsrc *z) { return z->frames; }
