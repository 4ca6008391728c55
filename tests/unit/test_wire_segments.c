/* The compact wire form: the agent's interning and SEGMENTS frames
 * (agent/segments.c) against the recorder's table and expander
 * (common/wire_segments.c), every bound and every refusal. */
#include "segments.h"
#include "frame.h"
#include "wire_segments.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static peeka_segs *table(void)
{
    peeka_segs *t = calloc(1, sizeof *t);
    ck_assert_ptr_nonnull(t);
    return t;
}

static void table_free(peeka_segs *t)
{
    peeka_segs_free(t);
    free(t);
}

/* Appends one definition to buf at *n. */
static void put_def(uint8_t *buf, size_t *n, unsigned id, const char *s, size_t len)
{
    buf[*n] = (uint8_t)id;
    buf[*n + 1] = (uint8_t)(id >> 8);
    buf[*n + 2] = (uint8_t)len;
    buf[*n + 3] = (uint8_t)(len >> 8);
    memcpy(buf + *n + 4, s, len);
    *n += 4 + len;
}

static void put_ref(uint8_t *buf, size_t *n, unsigned id)
{
    peeka_seg_ref(buf + *n, id);
    *n += PEEKA_SEG_REF_LEN;
}

static void put_text(uint8_t *buf, size_t *n, const char *s)
{
    memcpy(buf + *n, s, strlen(s));
    *n += strlen(s);
}

static int define(peeka_segs *t, const uint8_t *b, size_t n, char *why)
{
    return peeka_segs_define(t, b, n, why, 200);
}

START_TEST(test_define_and_expand)
{
    peeka_segs *t = table();
    uint8_t def[256], body[256];
    size_t dn = 0, bn = 0;
    char why[200] = "";
    const char *a = "{\"type\":\"observation\",\"seq\":", *b = ",\"thread_name\":\"Main\"}";
    put_def(def, &dn, 0, a, strlen(a));
    put_def(def, &dn, 1, b, strlen(b));
    ck_assert_int_eq(define(t, def, dn, why), 0);
    ck_assert_uint_eq(t->n, 2);
    put_ref(body, &bn, 0);
    put_text(body, &bn, "1");
    put_ref(body, &bn, 1);
    put_text(body, &bn, "\n{\"literal\":2}\n");
    put_ref(body, &bn, 0);
    put_text(body, &bn, "3");
    put_ref(body, &bn, 1);
    put_text(body, &bn, "\n");
    const uint8_t *out;
    size_t on;
    ck_assert_int_eq(peeka_segs_expand(t, body, bn, &out, &on, why, sizeof why), 0);
    const char *want = "{\"type\":\"observation\",\"seq\":1,\"thread_name\":\"Main\"}\n"
                       "{\"literal\":2}\n"
                       "{\"type\":\"observation\",\"seq\":3,\"thread_name\":\"Main\"}\n";
    ck_assert_uint_eq(on, strlen(want));
    ck_assert_mem_eq(out, want, on);
    table_free(t);
}
END_TEST

START_TEST(test_literal_body_is_not_copied)
{
    peeka_segs *t = table();
    const uint8_t body[] = "{\"a\":1}\n";
    const uint8_t *out;
    size_t on;
    char why[200];
    ck_assert_int_eq(peeka_segs_expand(t, body, sizeof body - 1, &out, &on, why, sizeof why), 0);
    ck_assert_ptr_eq(out, body);
    ck_assert_uint_eq(on, sizeof body - 1);
    ck_assert_ptr_null(t->out);
    table_free(t);
}
END_TEST

/* Definitions go in order, each of MIN..MAX bytes without NUL, newline
 * or the reference byte, and nothing of a bad frame is kept. */
START_TEST(test_define_refusals)
{
    static const struct { unsigned id; const char *s; size_t len; const char *words; } bad[] = {
        {2, "abcd", 4, "where 1 was next"},
        {1, "abc", 3, "is 3 bytes"},
        {1, "ab\ncd", 5, "NUL, newline or reference"},
        {1, "ab\0cd", 5, "NUL, newline or reference"},
        {1, "ab\001cd", 5, "NUL, newline or reference"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        peeka_segs *t = table();
        uint8_t def[64];
        size_t dn = 0;
        char why[200] = "";
        put_def(def, &dn, 0, "good segment", 12);   /* kept only if the whole frame is good */
        put_def(def, &dn, bad[i].id, bad[i].s, bad[i].len);
        ck_assert_int_eq(define(t, def, dn, why), -1);
        ck_assert_msg(strstr(why, bad[i].words), "%zu: %s", i, why);
        ck_assert_uint_eq(t->n, 0);
        table_free(t);
    }
}
END_TEST

START_TEST(test_define_cut_and_empty)
{
    peeka_segs *t = table();
    uint8_t def[64];
    size_t dn = 0;
    char why[200] = "";
    ck_assert_int_eq(define(t, def, 0, why), -1);
    ck_assert_ptr_nonnull(strstr(why, "defines nothing"));
    put_def(def, &dn, 0, "abcdefgh", 8);
    ck_assert_int_eq(define(t, def, dn - 1, why), -1);
    ck_assert_ptr_nonnull(strstr(why, "ends inside segment 0"));
    ck_assert_int_eq(define(t, def, 3, why), -1);
    ck_assert_ptr_nonnull(strstr(why, "inside a definition's header"));
    ck_assert_uint_eq(t->n, 0);
    ck_assert_int_eq(define(t, def, dn, why), 0);
    ck_assert_int_eq(define(t, def, dn, why), -1);   /* id 0 again */
    ck_assert_ptr_nonnull(strstr(why, "defines segment 0 where 1 was next"));
    ck_assert_uint_eq(t->n, 1);
    table_free(t);
}
END_TEST

START_TEST(test_define_bounds)
{
    peeka_segs *t = table();
    size_t cap = PEEKA_SEG_DEF_HDR + PEEKA_SEG_LEN_MAX + 8;
    uint8_t *def = malloc(cap);
    char *s = malloc(PEEKA_SEG_LEN_MAX + 1);
    memset(s, 'x', PEEKA_SEG_LEN_MAX + 1);
    char why[200] = "";
    size_t dn = 0;
    put_def(def, &dn, 0, s, PEEKA_SEG_LEN_MAX + 1);
    ck_assert_int_eq(define(t, def, dn, why), -1);
    ck_assert_ptr_nonnull(strstr(why, "is 2049 bytes"));
    /* the byte budget: 512 segments of 2048 bytes fill it, the next one is refused */
    unsigned fill = PEEKA_SEG_BYTES_MAX / PEEKA_SEG_LEN_MAX;
    for (unsigned id = 0; id < fill; id++) {
        dn = 0;
        put_def(def, &dn, id, s, PEEKA_SEG_LEN_MAX);
        ck_assert_int_eq(define(t, def, dn, why), 0);
    }
    ck_assert_uint_eq(t->used, PEEKA_SEG_BYTES_MAX);
    dn = 0;
    put_def(def, &dn, fill, s, PEEKA_SEG_LEN_MIN);
    ck_assert_int_eq(define(t, def, dn, why), -1);
    ck_assert_ptr_nonnull(strstr(why, "past 1048576 bytes"));
    table_free(t);
    /* the count: ids up to PEEKA_SEG_MAX - 1 */
    t = table();
    for (unsigned id = 0; id < PEEKA_SEG_MAX; id++) {
        dn = 0;
        put_def(def, &dn, id, s, PEEKA_SEG_LEN_MIN);
        ck_assert_int_eq(define(t, def, dn, why), 0);
    }
    dn = 0;
    put_def(def, &dn, PEEKA_SEG_MAX, s, PEEKA_SEG_LEN_MIN);
    ck_assert_int_eq(define(t, def, dn, why), -1);
    ck_assert_ptr_nonnull(strstr(why, "at most 4096 segments"));
    table_free(t);
    free(def);
    free(s);
}
END_TEST

START_TEST(test_expand_refusals)
{
    peeka_segs *t = table();
    uint8_t def[32], body[32];
    size_t dn = 0, bn;
    char why[200] = "";
    const uint8_t *out;
    size_t on;
    put_def(def, &dn, 0, "abcd", 4);
    ck_assert_int_eq(define(t, def, dn, why), 0);
    bn = 0;
    put_ref(body, &bn, 1);   /* not defined */
    put_text(body, &bn, "\n");
    ck_assert_int_eq(peeka_segs_expand(t, body, bn, &out, &on, why, sizeof why), -1);
    ck_assert_ptr_nonnull(strstr(why, "not defined"));
    bn = 0;
    put_text(body, &bn, "{}");
    body[bn++] = PEEKA_SEG_REF;   /* cut: the id bytes are missing */
    body[bn++] = 0x80;
    ck_assert_int_eq(peeka_segs_expand(t, body, bn, &out, &on, why, sizeof why), -1);
    ck_assert_ptr_nonnull(strstr(why, "not defined"));
    bn = 0;
    body[bn++] = PEEKA_SEG_REF;   /* an id byte without its high bit */
    body[bn++] = 0x00;
    body[bn++] = 0x80;
    ck_assert_int_eq(peeka_segs_expand(t, body, bn, &out, &on, why, sizeof why), -1);
    table_free(t);
}
END_TEST

/* A batch may not expand beyond PEEKA_BATCH_MAX. */
START_TEST(test_expand_limit)
{
    peeka_segs *t = table();
    uint8_t def[PEEKA_SEG_DEF_HDR + PEEKA_SEG_LEN_MAX];
    char *s = malloc(PEEKA_SEG_LEN_MAX);
    memset(s, 'y', PEEKA_SEG_LEN_MAX);
    size_t dn = 0;
    char why[200] = "";
    put_def(def, &dn, 0, s, PEEKA_SEG_LEN_MAX);
    ck_assert_int_eq(define(t, def, dn, why), 0);
    size_t refs = PEEKA_BATCH_MAX / PEEKA_SEG_LEN_MAX;   /* exactly the limit */
    uint8_t *body = malloc(refs * PEEKA_SEG_REF_LEN + PEEKA_SEG_REF_LEN);
    size_t bn = 0;
    for (size_t i = 0; i < refs; i++)
        put_ref(body, &bn, 0);
    const uint8_t *out;
    size_t on;
    ck_assert_int_eq(peeka_segs_expand(t, body, bn, &out, &on, why, sizeof why), 0);
    ck_assert_uint_eq(on, PEEKA_BATCH_MAX);
    put_ref(body, &bn, 0);
    ck_assert_int_eq(peeka_segs_expand(t, body, bn, &out, &on, why, sizeof why), -1);
    ck_assert_ptr_nonnull(strstr(why, "expands to more than"));
    free(body);
    free(s);
    table_free(t);
}
END_TEST

/* ---- the agent's half, against the recorder's ---- */

static uint8_t sent[1 << 16];
static size_t sent_len;
static int sent_frames;

static int capture(uint8_t type, const void *body, size_t len)
{
    ck_assert_int_eq(type, PF_SEGMENTS);
    ck_assert_uint_le(sent_len + len, sizeof sent);
    memcpy(sent + sent_len, body, len);
    sent_len += len;
    sent_frames++;
    return 0;
}

static void write_record(jsonw *w, seg_slot *head, seg_slot *tail, int seq)
{
    char num[16];
    seg_lit(w, head, "{\"type\":\"observation\",\"kind\":\"watch\",\"seq\":");
    jsonw_raw(w, num, (size_t)snprintf(num, sizeof num, "%d", seq));
    seg_lit(w, tail, ",\"thread_name\":\"MainThread\"}");
    jsonw_char(w, '\n');
}

START_TEST(test_agent_round_trip)
{
    jsonw w;
    ck_assert_int_eq(jsonw_init(&w, 1024, 1 << 20), 0);
    seg_slot head = {0}, tail = {0}, tiny = {0};
    sent_len = 0;
    sent_frames = 0;
    /* off: literal JSON, no definitions */
    write_record(&w, &head, &tail, 1);
    ck_assert_uint_eq(w.extra, 0);
    ck_assert_ptr_null(memchr(w.buf, PEEKA_SEG_REF, w.len));
    ck_assert_int_eq(seg_send_new(capture), 0);
    ck_assert_int_eq(sent_frames, 0);
    seg_enable(1);
    jsonw_reset(&w);
    write_record(&w, &head, &tail, 2);
    write_record(&w, &head, &tail, 3);
    seg_lit(&w, &tiny, "ab");   /* shorter than a reference: literal */
    ck_assert_int_eq(seg_state(&tiny), 0);
    jsonw_char(&w, '\n');
    ck_assert_int_eq(seg_send_new(capture), 0);
    ck_assert_int_eq(sent_frames, 1);
    ck_assert_int_eq(seg_send_new(capture), 0);   /* nothing new */
    ck_assert_int_eq(sent_frames, 1);
    peeka_segs *t = table();
    char why[200] = "";
    ck_assert_int_eq(define(t, sent, sent_len, why), 0);
    ck_assert_uint_eq(t->n, 2);
    const uint8_t *out;
    size_t on;
    ck_assert_int_eq(peeka_segs_expand(t, (uint8_t *)w.buf, w.len, &out, &on, why, sizeof why), 0);
    const char *want = "{\"type\":\"observation\",\"kind\":\"watch\",\"seq\":2,\"thread_name\":\"MainThread\"}\n"
                       "{\"type\":\"observation\",\"kind\":\"watch\",\"seq\":3,\"thread_name\":\"MainThread\"}\n"
                       "ab\n";
    ck_assert_uint_eq(on, strlen(want));
    ck_assert_uint_eq(w.len + w.extra, on);   /* the agent knows the expanded length */
    ck_assert_mem_eq(out, want, on);
    /* a forked child following the session: a new table, slots re-interned */
    seg_after_fork(1);
    ck_assert_int_eq(seg_state(&head), -1);
    jsonw_reset(&w);
    write_record(&w, &head, &tail, 4);
    sent_len = 0;
    ck_assert_int_eq(seg_send_new(capture), 0);
    peeka_segs *t2 = table();
    ck_assert_int_eq(define(t2, sent, sent_len, why), 0);
    ck_assert_uint_eq(t2->n, 2);
    seg_end();
    ck_assert_int_eq(seg_state(&head), 0);
    table_free(t);
    table_free(t2);
    jsonw_free(&w);
}
END_TEST

/* The table full: bytes go literally from then on, the records stay right. */
START_TEST(test_agent_table_full)
{
    seg_enable(1);
    static seg_slot slots[PEEKA_SEG_MAX + 1];
    char s[16];
    for (unsigned i = 0; i < PEEKA_SEG_MAX; i++) {
        int n = snprintf(s, sizeof s, "seg%05u", i);
        ck_assert_int_eq(seg_intern(&slots[i], s, (size_t)n), 1);
    }
    ck_assert_int_eq(seg_intern(&slots[PEEKA_SEG_MAX], "one more", 8), 0);
    ck_assert_int_eq(seg_state(&slots[PEEKA_SEG_MAX]), 0);
    jsonw w;
    ck_assert_int_eq(jsonw_init(&w, 64, 1024), 0);
    seg_lit(&w, &slots[PEEKA_SEG_MAX], "one more");
    ck_assert_uint_eq(w.len, 8);
    ck_assert_mem_eq(w.buf, "one more", 8);
    jsonw_free(&w);
    seg_end();
}
END_TEST

/* The record limit holds for the expanded length. */
START_TEST(test_agent_limit_counts_expansion)
{
    seg_enable(1);
    jsonw w;
    ck_assert_int_eq(jsonw_init(&w, 64, 100), 0);
    seg_slot big = {0};
    char s[PEEKA_SEG_LEN_MAX];
    memset(s, 'z', sizeof s);
    seg_write(&w, &big, s, 60);
    ck_assert_int_eq(seg_state(&big), 1);
    ck_assert_uint_eq(w.len, 3);
    ck_assert_int_eq(jsonw_over(&w), 0);
    seg_write(&w, &big, s, 60);
    ck_assert_uint_eq(w.len + w.extra, 120);
    ck_assert_int_eq(jsonw_over(&w), 1);
    jsonw_free(&w);
    seg_end();
}
END_TEST

static Suite *segments_suite(void)
{
    Suite *s = suite_create("wire_segments");
    TCase *tc = tcase_create("wire_segments");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_define_and_expand);
    tcase_add_test(tc, test_literal_body_is_not_copied);
    tcase_add_test(tc, test_define_refusals);
    tcase_add_test(tc, test_define_cut_and_empty);
    tcase_add_test(tc, test_define_bounds);
    tcase_add_test(tc, test_expand_refusals);
    tcase_add_test(tc, test_expand_limit);
    tcase_add_test(tc, test_agent_round_trip);
    tcase_add_test(tc, test_agent_table_full);
    tcase_add_test(tc, test_agent_limit_counts_expansion);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(segments_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
