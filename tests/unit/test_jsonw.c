/* agent/jsonw.c's integer formatting, against printf, at every digit
 * count and the edges of its 32-bit parts. */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "jsonw.h"

static void expect_u64(uint64_t v)
{
    jsonw w;
    ck_assert_int_eq(jsonw_init(&w, 8, 64), 0);
    jsonw_u64(&w, v);
    char want[32];
    snprintf(want, sizeof want, "%" PRIu64, v);
    ck_assert_int_eq(w.overflow, 0);
    ck_assert_uint_eq(w.len, strlen(want));
    ck_assert_mem_eq(w.buf, want, w.len);
    jsonw_free(&w);
}

START_TEST(every_digit_count)
{
    uint64_t p = 1;
    for (int d = 0; d < 20; d++, p *= 10) {
        expect_u64(p);
        expect_u64(p - 1);
        expect_u64(p + 1);
    }
}
END_TEST

START_TEST(part_edges)
{
    const uint64_t vs[] = {0, 9, 10, 99, 100, 99999999, 100000000, 100000001,
                           UINT32_MAX, (uint64_t)UINT32_MAX + 1, 10000000000000000ULL,
                           10000000000000001ULL, 9999999999999999ULL, 1796310021594705456ULL,
                           UINT64_MAX, UINT64_MAX - 1};
    for (size_t i = 0; i < sizeof vs / sizeof *vs; i++)
        expect_u64(vs[i]);
    uint64_t x = 88172645463325252ULL;   /* xorshift: many shapes of digits */
    for (int i = 0; i < 5000; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        expect_u64(x);
        expect_u64(x >> (i % 64));
    }
}
END_TEST

START_TEST(negative)
{
    jsonw w;
    ck_assert_int_eq(jsonw_init(&w, 8, 64), 0);
    jsonw_i64(&w, INT64_MIN);
    ck_assert_uint_eq(w.len, 20);
    ck_assert_mem_eq(w.buf, "-9223372036854775808", 20);
    jsonw_free(&w);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jsonw");
    TCase *tc = tcase_create("integers");
    tcase_add_test(tc, every_digit_count);
    tcase_add_test(tc, part_edges);
    tcase_add_test(tc, negative);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
