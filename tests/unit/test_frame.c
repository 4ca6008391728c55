/* common/frame.c: the framing both ends of the agent socket speak. */
#include "frame.h"
#include "archive_write.h"

#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <stdio.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Appends one frame (header + body) to buf at *n. */
static void put_frame(uint8_t *buf, size_t *n, uint8_t type, const void *body, uint32_t len)
{
    peeka_frame_header(buf + *n, len, type);
    if (len)
        memcpy(buf + *n + PEEKA_FRAME_HDR, body, len);
    *n += PEEKA_FRAME_HDR + len;
}

/* Copies up to n bytes into the decoder, as reads would: as many as it has
 * room for, which may take several (it takes a header, then up to the end
 * of its frame). */
static size_t feed(peeka_fdec *d, const uint8_t *p, size_t n)
{
    size_t done = 0;
    while (done < n) {
        size_t room;
        uint8_t *dst = peeka_fdec_space(d, &room);
        ck_assert_ptr_nonnull(dst);
        if (!room)
            break;
        size_t k = n - done < room ? n - done : room;
        memcpy(dst, p + done, k);
        peeka_fdec_commit(d, k);
        done += k;
    }
    return done;
}

START_TEST(test_header_layout)
{
    uint8_t h[PEEKA_FRAME_HDR];
    peeka_frame_header(h, 0x01020304u, PF_RECORDS);
    const uint8_t want[PEEKA_FRAME_HDR] = { 4, 3, 2, 1, PF_RECORDS, 0, 0, 0 };
    ck_assert_mem_eq(h, want, sizeof want);
    uint32_t len;
    uint8_t type;
    ck_assert_int_eq(peeka_frame_parse(h, 0xFFFFFFFFu, &len, &type), PFE_OK);
    ck_assert_uint_eq(len, 0x01020304u);
    ck_assert_uint_eq(type, PF_RECORDS);
}
END_TEST

START_TEST(test_header_every_type)
{
    for (uint8_t t = 1; t <= PF_TYPE_MAX; t++) {
        uint8_t h[PEEKA_FRAME_HDR];
        uint32_t len;
        uint8_t type;
        peeka_frame_header(h, 7, t);
        ck_assert_int_eq(peeka_frame_parse(h, 7, &len, &type), PFE_OK);
        ck_assert_uint_eq(type, t);
        ck_assert_uint_eq(len, 7);
    }
}
END_TEST

START_TEST(test_header_rejects)
{
    uint8_t h[PEEKA_FRAME_HDR];
    uint32_t len = 99;
    uint8_t type = 99;
    peeka_frame_header(h, 10, 0);
    ck_assert_int_eq(peeka_frame_parse(h, 100, &len, &type), PFE_TYPE);
    peeka_frame_header(h, 10, PF_TYPE_MAX + 1);
    ck_assert_int_eq(peeka_frame_parse(h, 100, &len, &type), PFE_TYPE);
    peeka_frame_header(h, 10, 255);
    ck_assert_int_eq(peeka_frame_parse(h, 100, &len, &type), PFE_TYPE);
    for (int k = 5; k < 8; k++) {
        peeka_frame_header(h, 10, PF_HELLO);
        h[k] = 1;
        ck_assert_int_eq(peeka_frame_parse(h, 100, &len, &type), PFE_RESERVED);
    }
    peeka_frame_header(h, 101, PF_HELLO);
    ck_assert_int_eq(peeka_frame_parse(h, 100, &len, &type), PFE_TOOBIG);
    peeka_frame_header(h, 0xFFFFFFFFu, PF_HELLO);
    ck_assert_int_eq(peeka_frame_parse(h, PEEKA_FRAME_MAX, &len, &type), PFE_TOOBIG);
    /* A refused header leaves the outputs alone. */
    ck_assert_uint_eq(len, 99);
    ck_assert_uint_eq(type, 99);
    peeka_frame_header(h, 100, PF_HELLO);
    ck_assert_int_eq(peeka_frame_parse(h, 100, &len, &type), PFE_OK);
    ck_assert_uint_eq(len, 100);
}
END_TEST

START_TEST(test_strerror)
{
    const int codes[] = { PFE_OK, PFE_TYPE, PFE_RESERVED, PFE_TOOBIG, PFE_IO, PFE_EOF, PFE_TRUNC };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *m = peeka_frame_strerror(codes[i]);
        ck_assert_ptr_nonnull(m);
        ck_assert_int_gt(strlen(m), 1);
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(m, peeka_frame_strerror(codes[j]));
    }
    ck_assert_str_eq(peeka_frame_strerror(-1000), "unknown frame error");
}
END_TEST

START_TEST(test_decoder_whole_frames)
{
    uint8_t buf[256];
    size_t n = 0;
    put_frame(buf, &n, PF_HELLO, "{\"a\":1}", 7);
    put_frame(buf, &n, PF_RECORDS, "", 0);
    put_frame(buf, &n, PF_EVENT, "xyz", 3);
    peeka_fdec d;
    ck_assert_int_eq(peeka_fdec_init(&d, 1024), 0);
    ck_assert_uint_eq(feed(&d, buf, n), n);
    uint8_t type;
    const uint8_t *body;
    uint32_t len;
    ck_assert_int_eq(peeka_fdec_next(&d, &type, &body, &len), 1);
    ck_assert_uint_eq(type, PF_HELLO);
    ck_assert_uint_eq(len, 7);
    ck_assert_mem_eq(body, "{\"a\":1}", 7);
    ck_assert_int_eq(peeka_fdec_next(&d, &type, &body, &len), 1);
    ck_assert_uint_eq(type, PF_RECORDS);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(peeka_fdec_next(&d, &type, &body, &len), 1);
    ck_assert_uint_eq(type, PF_EVENT);
    ck_assert_mem_eq(body, "xyz", 3);
    ck_assert_int_eq(peeka_fdec_next(&d, &type, &body, &len), 0);
    ck_assert_int_eq(peeka_fdec_next(&d, &type, &body, &len), 0);
    peeka_fdec_free(&d);
    peeka_fdec_free(&d);        /* twice is harmless */
}
END_TEST

/* Every frame boundary and every split point: the stream fed one byte at a
 * time yields exactly the frames that were written. */
START_TEST(test_decoder_byte_by_byte)
{
    enum { NFRAMES = 40 };
    size_t cap = NFRAMES * (PEEKA_FRAME_HDR + 300);
    uint8_t *buf = malloc(cap);
    uint32_t lens[NFRAMES];
    size_t n = 0;
    for (int i = 0; i < NFRAMES; i++) {
        uint8_t body[300];
        lens[i] = (uint32_t)(i * 7 % 300);
        for (uint32_t k = 0; k < lens[i]; k++)
            body[k] = (uint8_t)(i + k);
        put_frame(buf, &n, (uint8_t)(1 + i % PF_TYPE_MAX), body, lens[i]);
    }
    peeka_fdec d;
    ck_assert_int_eq(peeka_fdec_init(&d, 300), 0);
    int got = 0;
    for (size_t off = 0; off < n; off++) {
        ck_assert_uint_eq(feed(&d, buf + off, 1), 1);
        uint8_t type;
        const uint8_t *body;
        uint32_t len;
        int rc;
        while ((rc = peeka_fdec_next(&d, &type, &body, &len)) == 1) {
            ck_assert_int_lt(got, NFRAMES);
            ck_assert_uint_eq(type, 1 + got % PF_TYPE_MAX);
            ck_assert_uint_eq(len, lens[got]);
            for (uint32_t k = 0; k < len; k++)
                ck_assert_uint_eq(body[k], (uint8_t)(got + k));
            got++;
        }
        ck_assert_int_eq(rc, 0);
        ck_assert_uint_le(d.cap, PEEKA_FRAME_HDR + 300);
    }
    ck_assert_int_eq(got, NFRAMES);
    ck_assert_uint_eq(d.len - d.consumed, 0);
    peeka_fdec_free(&d);
    free(buf);
}
END_TEST

/* Chunks of every size from 1 to 97 bytes. */
START_TEST(test_decoder_chunked)
{
    uint8_t buf[4096];
    size_t n = 0;
    for (int i = 0; i < 20; i++) {
        char body[100];
        memset(body, 'a' + i, sizeof body);
        put_frame(buf, &n, PF_REPLY, body, (uint32_t)(i * 5));
    }
    size_t chunk = (size_t)_i + 1;
    peeka_fdec d;
    ck_assert_int_eq(peeka_fdec_init(&d, 1000), 0);
    int got = 0;
    for (size_t off = 0; off < n;) {
        size_t want = n - off < chunk ? n - off : chunk;
        off += feed(&d, buf + off, want);
        uint8_t type;
        const uint8_t *body;
        uint32_t len;
        while (peeka_fdec_next(&d, &type, &body, &len) == 1) {
            ck_assert_uint_eq(len, (uint32_t)(got * 5));
            for (uint32_t k = 0; k < len; k++)
                ck_assert_int_eq(body[k], 'a' + got);
            got++;
        }
    }
    ck_assert_int_eq(got, 20);
    peeka_fdec_free(&d);
}
END_TEST

/* A frame of exactly the limit passes and the buffer grows to hold it,
 * never further; one byte more is refused from its header alone. */
START_TEST(test_decoder_limit)
{
    const uint32_t max = 200000;
    uint8_t *buf = malloc(PEEKA_FRAME_HDR + max);
    size_t n = 0;
    uint8_t *body0 = malloc(max);
    memset(body0, 'x', max);
    put_frame(buf, &n, PF_RECORDS, body0, max);
    peeka_fdec d;
    ck_assert_int_eq(peeka_fdec_init(&d, max), 0);
    uint8_t type;
    const uint8_t *body;
    uint32_t len;
    size_t off = 0;
    int rc = 0;
    while (off < n && rc == 0) {
        off += feed(&d, buf + off, n - off);
        rc = peeka_fdec_next(&d, &type, &body, &len);
        ck_assert_uint_le(d.cap, PEEKA_FRAME_HDR + (size_t)max);
    }
    ck_assert_int_eq(rc, 1);
    ck_assert_uint_eq(len, max);
    ck_assert_mem_eq(body, body0, max);
    peeka_fdec_free(&d);

    uint8_t h[PEEKA_FRAME_HDR];
    peeka_frame_header(h, max + 1, PF_RECORDS);
    ck_assert_int_eq(peeka_fdec_init(&d, max), 0);
    feed(&d, h, sizeof h);
    ck_assert_int_eq(peeka_fdec_next(&d, &type, &body, &len), PFE_TOOBIG);
    /* The error sticks: the stream cannot be resynchronised. */
    ck_assert_int_eq(peeka_fdec_next(&d, &type, &body, &len), PFE_TOOBIG);
    peeka_fdec_free(&d);
    free(buf);
    free(body0);
}
END_TEST

START_TEST(test_decoder_malformed)
{
    uint8_t buf[64];
    size_t n = 0;
    put_frame(buf, &n, PF_HELLO, "ok", 2);
    size_t good = n;
    put_frame(buf, &n, PF_HELLO, "bad", 3);
    buf[good + 4] = 42;         /* unknown type after a good frame */
    peeka_fdec d;
    ck_assert_int_eq(peeka_fdec_init(&d, 100), 0);
    feed(&d, buf, n);
    uint8_t type;
    const uint8_t *body;
    uint32_t len;
    ck_assert_int_eq(peeka_fdec_next(&d, &type, &body, &len), 1);
    ck_assert_mem_eq(body, "ok", 2);
    ck_assert_int_eq(peeka_fdec_next(&d, &type, &body, &len), PFE_TYPE);
    peeka_fdec_free(&d);

    n = 0;
    put_frame(buf, &n, PF_HELLO, "x", 1);
    buf[6] = 0x80;
    ck_assert_int_eq(peeka_fdec_init(&d, 100), 0);
    feed(&d, buf, n);
    ck_assert_int_eq(peeka_fdec_next(&d, &type, &body, &len), PFE_RESERVED);
    peeka_fdec_free(&d);
}
END_TEST

/* A stream that stops inside a frame: the decoder asks for more and keeps
 * the partial bytes, which is what lets the reader report PFE_TRUNC at EOF
 * rather than PFE_EOF. */
START_TEST(test_decoder_truncated)
{
    uint8_t buf[64];
    size_t n = 0;
    put_frame(buf, &n, PF_EVENT, "0123456789", 10);
    for (size_t cut = 1; cut < n; cut++) {
        peeka_fdec d;
        ck_assert_int_eq(peeka_fdec_init(&d, 100), 0);
        feed(&d, buf, cut);
        uint8_t type;
        const uint8_t *body;
        uint32_t len;
        ck_assert_int_eq(peeka_fdec_next(&d, &type, &body, &len), 0);
        ck_assert_uint_eq(d.len - d.consumed, cut);
        peeka_fdec_free(&d);
    }
}
END_TEST

/* Taking the next frame drops the previous one lazily: the second body
 * comes out intact from the same buffer. */
START_TEST(test_decoder_body_survives_until_next)
{
    uint8_t buf[64];
    size_t n = 0;
    put_frame(buf, &n, PF_EVENT, "first", 5);
    put_frame(buf, &n, PF_EVENT, "second", 6);
    peeka_fdec d;
    ck_assert_int_eq(peeka_fdec_init(&d, 100), 0);
    feed(&d, buf, n);
    uint8_t type;
    const uint8_t *body;
    uint32_t len;
    ck_assert_int_eq(peeka_fdec_next(&d, &type, &body, &len), 1);
    ck_assert_mem_eq(body, "first", 5);
    ck_assert_int_eq(peeka_fdec_next(&d, &type, &body, &len), 1);
    ck_assert_mem_eq(body, "second", 6);
    peeka_fdec_free(&d);
}
END_TEST

/* A read takes a header, then stops at the end of its frame, so that no
 * part of the next frame is left to move to the front of the buffer. */
START_TEST(test_decoder_reads_up_to_frame_end)
{
    static uint8_t buf[100000 + 100];
    static uint8_t body[100000];
    size_t n = 0;
    memset(body, 'r', sizeof body);
    put_frame(buf, &n, PF_RECORDS, body, sizeof body);
    put_frame(buf, &n, PF_EVENT, "next", 4);
    peeka_fdec d;
    ck_assert_int_eq(peeka_fdec_init(&d, 200000), 0);
    size_t room;
    ck_assert_ptr_nonnull(peeka_fdec_space(&d, &room));
    ck_assert_uint_eq(room, PEEKA_FRAME_HDR);
    ck_assert_uint_eq(feed(&d, buf, 1000), 1000);
    uint8_t type;
    const uint8_t *b;
    uint32_t len;
    ck_assert_int_eq(peeka_fdec_next(&d, &type, &b, &len), 0);   /* grows to the whole frame */
    ck_assert_ptr_nonnull(peeka_fdec_space(&d, &room));
    ck_assert_uint_eq(room, PEEKA_FRAME_HDR + sizeof body - 1000);
    ck_assert_uint_eq(feed(&d, buf + 1000, room), room);
    ck_assert_int_eq(peeka_fdec_next(&d, &type, &b, &len), 1);
    ck_assert_uint_eq(type, PF_RECORDS);
    ck_assert_uint_eq(len, sizeof body);
    ck_assert_mem_eq(b, body, sizeof body);
    ck_assert_ptr_nonnull(peeka_fdec_space(&d, &room));
    ck_assert_uint_eq(room, PEEKA_FRAME_HDR);   /* the frame taken: nothing was left to move */
    ck_assert_uint_eq(feed(&d, buf + PEEKA_FRAME_HDR + sizeof body, 12), 12);
    ck_assert_int_eq(peeka_fdec_next(&d, &type, &b, &len), 1);
    ck_assert_uint_eq(type, PF_EVENT);
    ck_assert_mem_eq(b, "next", 4);
    peeka_fdec_free(&d);
}
END_TEST

typedef struct {
    int fd;
    size_t want;
    uint8_t *got;
    size_t n;
} reader_arg;

static void *reader(void *p)
{
    reader_arg *a = p;
    while (a->n < a->want) {
        ssize_t r = read(a->fd, a->got + a->n, a->want - a->n);
        if (r <= 0)
            break;
        a->n += (size_t)r;
    }
    return NULL;
}

/* peeka_frame_send through a socket and a pipe, with a reader on the other
 * end so that large frames exercise short writes. */
static void send_and_decode(int wfd, int rfd)
{
    const size_t big = 3u << 20;
    uint8_t *body = malloc(big);
    for (size_t k = 0; k < big; k++)
        body[k] = (uint8_t)(k * 31);
    reader_arg a = { .fd = rfd, .want = 2 * PEEKA_FRAME_HDR + big + 5 };
    a.got = malloc(a.want);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, reader, &a), 0);
    ck_assert_int_eq(peeka_frame_send(wfd, PF_RECORDS, body, big), PFE_OK);
    ck_assert_int_eq(peeka_frame_send(wfd, PF_REPLY, "hello", 5), PFE_OK);
    pthread_join(th, NULL);
    ck_assert_uint_eq(a.n, a.want);

    peeka_fdec d;
    ck_assert_int_eq(peeka_fdec_init(&d, PEEKA_FRAME_MAX), 0);
    size_t off = 0;
    int frames = 0;
    while (frames < 2) {
        if (off < a.n)
            off += feed(&d, a.got + off, a.n - off);
        uint8_t type;
        const uint8_t *b;
        uint32_t len;
        int rc = peeka_fdec_next(&d, &type, &b, &len);
        ck_assert_int_ge(rc, 0);
        if (rc == 0) {
            ck_assert_uint_lt(off, a.n);
            continue;
        }
        if (frames == 0) {
            ck_assert_uint_eq(type, PF_RECORDS);
            ck_assert_uint_eq(len, big);
            ck_assert_mem_eq(b, body, big);
        } else {
            ck_assert_uint_eq(type, PF_REPLY);
            ck_assert_mem_eq(b, "hello", 5);
        }
        frames++;
    }
    peeka_fdec_free(&d);
    free(a.got);
    free(body);
}

START_TEST(test_send_socket)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    send_and_decode(sv[0], sv[1]);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

START_TEST(test_send_pipe)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    send_and_decode(p[1], p[0]);
    close(p[0]);
    close(p[1]);
}
END_TEST

START_TEST(test_send_errors)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ck_assert_int_eq(peeka_frame_send(sv[0], PF_RECORDS, "", (size_t)PEEKA_FRAME_MAX + 1), PFE_TOOBIG);
    /* A vanished peer is an error, not a SIGPIPE. */
    close(sv[1]);
    ck_assert_int_eq(peeka_frame_send(sv[0], PF_EVENT, "x", 1), PFE_IO);
    ck_assert_int_eq(errno, EPIPE);
    close(sv[0]);
    ck_assert_int_eq(peeka_write_all(-1, "x", 1), PFE_IO);
    ck_assert_int_eq(peeka_write_all(sv[0], "", 0), PFE_OK);
}
END_TEST

/* archive_write: batches of any size, cut between lines; long names. */
typedef struct {
    char name[600];
    size_t size, lines;
    int last_is_newline;
} aw_member;

static int read_members(const char *path, aw_member *m, int max)
{
    struct archive *a = archive_read_new();
    archive_read_support_filter_zstd(a);
    archive_read_support_format_tar(a);
    ck_assert_int_eq(archive_read_open_filename(a, path, 65536), ARCHIVE_OK);
    struct archive_entry *e;
    int n = 0;
    static char buf[8 << 20];
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        ck_assert_int_lt(n, max);
        snprintf(m[n].name, sizeof m[n].name, "%s", archive_entry_pathname(e));
        la_ssize_t got, total = 0;
        while ((got = archive_read_data(a, buf + total, sizeof buf - (size_t)total)) > 0)
            total += got;
        ck_assert_int_ge(got, 0);
        m[n].size = (size_t)total;
        m[n].lines = 0;
        for (la_ssize_t i = 0; i < total; i++)
            m[n].lines += buf[i] == '\n';
        m[n].last_is_newline = total > 0 && buf[total - 1] == '\n';
        n++;
    }
    archive_read_free(a);
    return n;
}

static char *tmp_path(const char *name)
{
    static char dir[64];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/peeka-aw-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
    }
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

/* Each test runs in a process of its own (Check forks), so the directory
 * tmp_path made for it goes with its one file. */
static void tmp_remove(char *path)
{
    ck_assert_int_eq(unlink(path), 0);
    *strrchr(path, '/') = 0;
    ck_assert_int_eq(rmdir(path), 0);
    free(path);
}

/* 8 MB of 1000-byte lines in one batch, then one 1.5 MiB line (over a
 * chunk), then small lines: whole lines in every member, none over a chunk
 * but the long line's own. */
START_TEST(test_aw_splits_batches)
{
    char *path = tmp_path("split.tar.zst"), err[256];
    peeka_aw *w = peeka_aw_open(path, NULL, 1, err, sizeof err);
    ck_assert_msg(w != NULL, "%s", err);
    size_t line = 1000, n = 8000 * line;
    char *batch = malloc(n);
    for (size_t i = 0; i < n; i++)
        batch[i] = (i + 1) % line == 0 ? '\n' : 'a';
    ck_assert_int_eq(peeka_aw_append_records(w, batch, n), 0);
    size_t big = 3u << 19;
    char *one = malloc(big);
    memset(one, 'b', big);
    one[big - 1] = '\n';
    ck_assert_int_eq(peeka_aw_append_records(w, one, big), 0);
    ck_assert_int_eq(peeka_aw_append_records(w, "{}\n{}\n", 6), 0);
    ck_assert_int_eq(peeka_aw_append_records(w, "{}", 2), -1);   /* not whole lines */
    ck_assert_uint_eq(peeka_aw_records(w), n / line + 1 + 2);
    ck_assert_int_eq(peeka_aw_close(w, "{}", 2, err, sizeof err), 0);
    aw_member m[64];
    int k = read_members(path, m, 64);
    size_t lines = 0, longest = 0;
    for (int i = 0; i < k; i++) {
        if (!strstr(m[i].name, "/data/"))
            continue;
        ck_assert_msg(m[i].last_is_newline, "%s does not end with a whole line", m[i].name);
        lines += m[i].lines;
        if (m[i].size > longest)
            longest = m[i].size;
        ck_assert_msg(m[i].size <= PEEKA_CHUNK_BYTES || m[i].lines == 1, "%s: %zu bytes", m[i].name,
                      m[i].size);
    }
    ck_assert_uint_eq(lines, n / line + 1 + 2);
    ck_assert_uint_eq(longest, big);
    ck_assert_str_eq(m[k - 1].name, "split/summary.json");
    free(batch);
    free(one);
    tmp_remove(path);
}
END_TEST

/* Stems of 100 to 300 bytes: every member keeps its whole name. */
START_TEST(test_aw_long_names)
{
    size_t len = 100 + (size_t)_i * 50;
    char stem[400];
    memset(stem, 's', len);
    stem[len] = 0;
    char *path = tmp_path("long.tar.zst"), err[256];
    peeka_aw *w = peeka_aw_open(path, stem, 3, err, sizeof err);
    ck_assert_msg(w != NULL, "%s", err);
    ck_assert_int_eq(peeka_aw_member(w, "session.json", "{}", 2), 0);
    ck_assert_int_eq(peeka_aw_append_records(w, "{}\n", 3), 0);
    ck_assert_int_eq(peeka_aw_close(w, "{}", 2, err, sizeof err), 0);
    aw_member m[8];
    ck_assert_int_eq(read_members(path, m, 8), 3);
    char want[600];
    snprintf(want, sizeof want, "%s/session.json", stem);
    ck_assert_str_eq(m[0].name, want);
    snprintf(want, sizeof want, "%s/data/000001.jsonl", stem);
    ck_assert_str_eq(m[1].name, want);
    snprintf(want, sizeof want, "%s/summary.json", stem);
    ck_assert_str_eq(m[2].name, want);
    tmp_remove(path);
}
END_TEST

static Suite *frame_suite(void)
{
    Suite *s = suite_create("frame");
    TCase *tc = tcase_create("frame");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_header_layout);
    tcase_add_test(tc, test_header_every_type);
    tcase_add_test(tc, test_header_rejects);
    tcase_add_test(tc, test_strerror);
    tcase_add_test(tc, test_decoder_whole_frames);
    tcase_add_test(tc, test_decoder_byte_by_byte);
    tcase_add_loop_test(tc, test_decoder_chunked, 0, 97);
    tcase_add_test(tc, test_decoder_limit);
    tcase_add_test(tc, test_decoder_malformed);
    tcase_add_test(tc, test_decoder_truncated);
    tcase_add_test(tc, test_decoder_body_survives_until_next);
    tcase_add_test(tc, test_decoder_reads_up_to_frame_end);
    tcase_add_test(tc, test_send_socket);
    tcase_add_test(tc, test_send_pipe);
    tcase_add_test(tc, test_send_errors);
    tcase_add_test(tc, test_aw_splits_batches);
    tcase_add_loop_test(tc, test_aw_long_names, 0, 5);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(frame_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
