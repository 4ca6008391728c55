/* A zstd-decompressing byte source over a file or a memory buffer.
 *
 * peeka archives are a concatenation of zstd frames, one per tar member.
 * Decompressing here (rather than in libarchive's zstd filter) tells us
 * exactly whether the input ended inside a frame (a recorder that died:
 * "truncated", analysable) or the bytes themselves are bad ("corrupt"). */
#ifndef PA_ZSRC_H
#define PA_ZSRC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct pa_zsrc pa_zsrc;

/* Opens a file (fd owned by the source) or a memory buffer (borrowed).
 * NULL with a message in err when the input is not a zstd stream at all. */
pa_zsrc *pa_zsrc_open_fd(int fd, char *err, size_t errlen);
pa_zsrc *pa_zsrc_open_mem(const void *data, size_t len, char *err, size_t errlen);
void pa_zsrc_close(pa_zsrc *z);

/* Next decompressed bytes: > 0 bytes at *buf (valid until the next call),
 * 0 at the end of input (see pa_zsrc_truncated), -1 on error (pa_zsrc_error). */
ssize_t pa_zsrc_read(pa_zsrc *z, const void **buf);

int pa_zsrc_truncated(const pa_zsrc *z);      /* input ended inside a frame */
const char *pa_zsrc_error(const pa_zsrc *z);  /* NULL when no error */
uint64_t pa_zsrc_offset(const pa_zsrc *z);    /* compressed bytes consumed */
uint64_t pa_zsrc_frames(const pa_zsrc *z);    /* complete frames decoded */

/* Describes what the first bytes of a non-zstd input look like. */
const char *pa_sniff_format(const unsigned char *p, size_t n);

#endif
