/* recorder/keep_ring.c: the newest whole lines that fit, in order, whatever
 * the lines' lengths and wherever the buffer's end cuts them. */
#include "../../recorder/keep_ring.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char out[1 << 16];
    size_t len;
    int pieces;
} sink;

static int collect(void *ctx, const uint8_t *lines, size_t len)
{
    sink *s = ctx;
    ck_assert_uint_gt(len, 0);
    ck_assert_int_eq(lines[len - 1], '\n');   /* whole lines only */
    ck_assert_uint_le(s->len + len, sizeof s->out);
    memcpy(s->out + s->len, lines, len);
    s->len += len;
    s->pieces++;
    return 0;
}

/* Line i is "i:" and then i % 13 'x's: lengths vary, so cuts fall everywhere. */
static size_t line(int i, char *buf, size_t n)
{
    int k = snprintf(buf, n, "%d:", i);
    memset(buf + k, 'x', (size_t)(i % 13));
    buf[k + i % 13] = '\n';
    return (size_t)k + (size_t)(i % 13) + 1;
}

/* After lines 0..n-1 into a ring of size bytes, the ring holds the longest
 * suffix of them whose bytes fit. */
static void check_suffix(size_t size, int n)
{
    keep_ring *k = keep_ring_new(size);
    ck_assert_ptr_nonnull(k);
    char buf[64];
    for (int i = 0; i < n; i++)
        keep_ring_add(k, (const uint8_t *)buf, line(i, buf, sizeof buf));
    char want[1 << 16];
    size_t wlen = 0;
    int first = n;
    while (first > 0) {
        size_t l = line(first - 1, buf, sizeof buf);
        if (wlen + l > size)
            break;
        memmove(want + l, want, wlen);
        memcpy(want, buf, l);
        wlen += l;
        first--;
    }
    sink *s = calloc(1, sizeof *s);
    ck_assert_int_eq(keep_ring_each(k, collect, s), 0);
    ck_assert_uint_eq(s->len, wlen);
    ck_assert_int_eq(memcmp(s->out, want, wlen), 0);
    ck_assert_uint_eq(keep_ring_lines(k), (uint64_t)(n - first));
    ck_assert_uint_eq(keep_ring_overwritten(k), (uint64_t)first);
    ck_assert_uint_eq(keep_ring_bytes(k), wlen);
    free(s);
    keep_ring_free(k);
}

START_TEST(test_every_cut)
{
    for (size_t size = 16; size < 300; size += 7)
        for (int n = 0; n < 120; n += 11)
            check_suffix(size, n);
}
END_TEST

START_TEST(test_batches_and_oversize)
{
    keep_ring *k = keep_ring_new(30);
    const char *batch = "aaaa\nbbbb\ncccc\n";
    keep_ring_add(k, (const uint8_t *)batch, strlen(batch));
    char big[40];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\n';
    keep_ring_add(k, (const uint8_t *)big, sizeof big);   /* longer than the ring: not kept */
    ck_assert_uint_eq(keep_ring_lines(k), 3);
    ck_assert_uint_eq(keep_ring_overwritten(k), 1);
    keep_ring_add(k, (const uint8_t *)"0123456789abcdefghijk\n", 22);   /* evicts aaaa and bbbb */
    sink *s = calloc(1, sizeof *s);
    ck_assert_int_eq(keep_ring_each(k, collect, s), 0);
    s->out[s->len] = 0;
    ck_assert_str_eq(s->out, "cccc\n0123456789abcdefghijk\n");
    ck_assert_uint_eq(keep_ring_overwritten(k), 3);
    free(s);
    keep_ring_free(k);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("keep_ring");
    TCase *tc = tcase_create("keep_ring");
    tcase_add_test(tc, test_every_cut);
    tcase_add_test(tc, test_batches_and_oversize);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
