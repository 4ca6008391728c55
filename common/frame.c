#include "frame.h"

#include <errno.h>
#include <poll.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 |
           (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void peeka_frame_header(uint8_t hdr[PEEKA_FRAME_HDR], uint32_t len, uint8_t type)
{
    put_le32(hdr, len);
    hdr[4] = type;
    hdr[5] = hdr[6] = hdr[7] = 0;
}

int peeka_frame_parse(const uint8_t hdr[PEEKA_FRAME_HDR], uint32_t max,
                      uint32_t *len, uint8_t *type)
{
    if (hdr[4] == 0 || hdr[4] > PF_TYPE_MAX)
        return PFE_TYPE;
    if (hdr[5] | hdr[6] | hdr[7])
        return PFE_RESERVED;
    uint32_t n = get_le32(hdr);
    if (n > max)
        return PFE_TOOBIG;
    *len = n;
    *type = hdr[4];
    return PFE_OK;
}

const char *peeka_frame_strerror(int err)
{
    switch (err) {
    case PFE_OK:       return "ok";
    case PFE_TYPE:     return "unknown frame type";
    case PFE_RESERVED: return "reserved header bytes are not zero";
    case PFE_TOOBIG:   return "frame body exceeds the size limit";
    case PFE_IO:       return "socket error";
    case PFE_EOF:      return "peer closed the connection";
    case PFE_TRUNC:    return "peer closed the connection in the middle of a frame";
    }
    return "unknown frame error";
}

int peeka_fdec_init(peeka_fdec *d, uint32_t max)
{
    memset(d, 0, sizeof *d);
    d->max = max;
    d->cap = 64 * 1024;
    if (d->cap > PEEKA_FRAME_HDR + (size_t)max)
        d->cap = PEEKA_FRAME_HDR + (size_t)max;
    d->buf = malloc(d->cap);
    return d->buf ? 0 : -1;
}

void peeka_fdec_free(peeka_fdec *d)
{
    free(d->buf);
    d->buf = NULL;
    d->len = d->cap = 0;
}

/* Drops the frame handed out last time; done lazily so its body pointer
 * stays valid until the caller asks for more. */
static void discard_consumed(peeka_fdec *d)
{
    if (!d->consumed)
        return;
    memmove(d->buf, d->buf + d->consumed, d->len - d->consumed);
    d->len -= d->consumed;
    d->consumed = 0;
}

uint8_t *peeka_fdec_space(peeka_fdec *d, size_t *room)
{
    discard_consumed(d);
    size_t want = d->len + 64 * 1024;
    size_t limit = PEEKA_FRAME_HDR + (size_t)d->max;
    if (want > limit)
        want = limit;
    if (want > d->cap) {
        uint8_t *nb = realloc(d->buf, want);
        if (nb) {
            d->buf = nb;
            d->cap = want;
        }
    }
    *room = d->cap - d->len;
    /* A header first, then up to the end of its frame: a read past a
     * frame's end would leave the next frame's first part to be moved to
     * the front, up to a whole batch copied once more (docs/architecture.md
     * "Where the time goes").  Costs one short read per frame. */
    uint32_t n;
    uint8_t type;
    size_t upto = PEEKA_FRAME_HDR;
    if (d->len >= PEEKA_FRAME_HDR)
        upto = peeka_frame_parse(d->buf, d->max, &n, &type) == PFE_OK ? PEEKA_FRAME_HDR + (size_t)n : 0;
    if (upto > d->len && upto - d->len < *room)
        *room = upto - d->len;
    return d->buf + d->len;
}

void peeka_fdec_commit(peeka_fdec *d, size_t n)
{
    d->len += n;
}

int peeka_fdec_next(peeka_fdec *d, uint8_t *type, const uint8_t **body, uint32_t *len)
{
    discard_consumed(d);
    if (d->len < PEEKA_FRAME_HDR)
        return 0;
    uint32_t n;
    int rc = peeka_frame_parse(d->buf, d->max, &n, type);
    if (rc != PFE_OK)
        return rc;
    if (d->len - PEEKA_FRAME_HDR < n) {
        if (d->cap < PEEKA_FRAME_HDR + (size_t)n) {
            uint8_t *nb = realloc(d->buf, PEEKA_FRAME_HDR + (size_t)n);
            if (!nb)
                return PFE_IO;
            d->buf = nb;
            d->cap = PEEKA_FRAME_HDR + (size_t)n;
        }
        return 0;
    }
    *body = d->buf + PEEKA_FRAME_HDR;
    *len = n;
    d->consumed = PEEKA_FRAME_HDR + (size_t)n;
    return 1;
}

int peeka_write_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n > 0) {
        /* MSG_NOSIGNAL: a vanished peer must not SIGPIPE the target process. */
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == ENOTSOCK)
            w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return PFE_IO;
        }
        p += w;
        n -= (size_t)w;
    }
    return PFE_OK;
}

int peeka_frame_send(int fd, uint8_t type, const void *body, size_t len)
{
    if (len > PEEKA_FRAME_MAX)
        return PFE_TOOBIG;
    uint8_t hdr[PEEKA_FRAME_HDR];
    peeka_frame_header(hdr, (uint32_t)len, type);
    int rc = peeka_write_all(fd, hdr, sizeof hdr);
    if (rc == PFE_OK && len)
        rc = peeka_write_all(fd, body, len);
    return rc;
}

static int64_t ms_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int send_until(int fd, const uint8_t *p, size_t n, int64_t deadline)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w >= 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return PFE_IO;
        int64_t left = deadline - ms_now();
        if (left <= 0) {
            errno = ETIMEDOUT;
            return PFE_IO;
        }
        struct pollfd pfd = {fd, POLLOUT, 0};
        if (poll(&pfd, 1, (int)(left > 1000 ? 1000 : left)) < 0 && errno != EINTR)
            return PFE_IO;
    }
    return PFE_OK;
}

int peeka_frame_send_within(int fd, uint8_t type, const void *body, size_t len, int timeout_ms)
{
    if (len > PEEKA_FRAME_MAX)
        return PFE_TOOBIG;
    uint8_t hdr[PEEKA_FRAME_HDR];
    peeka_frame_header(hdr, (uint32_t)len, type);
    int64_t deadline = ms_now() + timeout_ms;
    int rc = send_until(fd, hdr, sizeof hdr, deadline);
    if (rc == PFE_OK && len)
        rc = send_until(fd, body, len, deadline);
    return rc;
}
