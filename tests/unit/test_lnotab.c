/* recorder/lnotab.c: the line tables of CPython 3.8/3.9 (co_lnotab) and
 * 3.10 (PEP 626's co_linetable) decoded as those versions do, on real
 * tables, and bounded on cut ones (what a racing read can return). */
#include "../../recorder/lnotab.h"

#include <check.h>
#include <stdlib.h>

/* The same function compiled by 3.8 and by 3.10, and the line of each of
 * its 21 instructions as dis.findlinestarts (3.8) and co_lines() (3.10)
 * give them:
 *
 * def f(a, b):
 *     x = a + b
 *     if x > 3:
 *         y = [i
 *              for i in range(x)]
 *     return (x,
 *             a)
 */
static const uint8_t LNOTAB_38[] = {0x00, 0x01, 0x08, 0x01, 0x08, 0x01, 0x06, 0x01,
                                    0x06, 0xff, 0x06, 0x02, 0x02, 0x01, 0x02, 0xff};
static const uint8_t LINETABLE_310[] = {0x08, 0x01, 0x08, 0x01, 0x06, 0x01, 0x06, 0x01,
                                        0x06, 0xff, 0x02, 0x02, 0x02, 0x01, 0x04, 0xff};
static const int LINES[21] = {2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 5, 5, 5, 4, 4, 4, 6, 7, 6, 6};

START_TEST(test_real_tables)
{
    for (int u = 0; u < 21; u++) {
        ck_assert_int_eq(pk_line_of_lnotab(LNOTAB_38, sizeof LNOTAB_38, 1, 2 * u), LINES[u]);
        ck_assert_int_eq(pk_line_of_pep626(LINETABLE_310, sizeof LINETABLE_310, 1, 2 * u), LINES[u]);
    }
    ck_assert_int_eq(pk_line_of_pep626(LINETABLE_310, sizeof LINETABLE_310, 1, 42), -1); /* past it */
    /* not started yet (f_lasti -1): the first line, as both versions say */
    ck_assert_int_eq(pk_line_of_lnotab(LNOTAB_38, sizeof LNOTAB_38, 1, -1), 1);
    ck_assert_int_eq(pk_line_of_pep626(LINETABLE_310, sizeof LINETABLE_310, 1, -2), 1);
    ck_assert_int_eq(pk_line_of_lnotab(LNOTAB_38, sizeof LNOTAB_38, 101, 36), 107);
    ck_assert_int_eq(pk_line_of_pep626(LINETABLE_310, sizeof LINETABLE_310, 101, 36), 107);
}
END_TEST

START_TEST(test_no_line_and_long_deltas)
{
    /* 3.10: a line delta of -128 is no line; a jump of more than 127
     * lines takes two pairs, the first of no bytes */
    const uint8_t t[] = {0x02, 0x80, 0x00, 0x7f, 0x04, 0x03};
    ck_assert_int_eq(pk_line_of_pep626(t, sizeof t, 10, 0), -1);
    ck_assert_int_eq(pk_line_of_pep626(t, sizeof t, 10, 2), 140);
    ck_assert_int_eq(pk_line_of_pep626(t, sizeof t, 10, 5), 140);
    ck_assert_int_eq(pk_line_of_pep626(t, sizeof t, 10, 6), -1);
}
END_TEST

START_TEST(test_cut_tables)
{
    /* an odd byte at the end is never read as a pair, an empty table is
     * the first line (3.8) or no line (3.10) */
    ck_assert_int_eq(pk_line_of_lnotab(LNOTAB_38, 3, 1, 40), 2);
    ck_assert_int_eq(pk_line_of_pep626(LINETABLE_310, 3, 1, 8), -1);
    ck_assert_int_eq(pk_line_of_lnotab(NULL, 0, 5, 0), 5);
    ck_assert_int_eq(pk_line_of_pep626(NULL, 0, 5, 0), -1);
    for (size_t n = 0; n <= sizeof LINETABLE_310; n++)
        for (int off = 0; off < 44; off++) {
            int a = pk_line_of_lnotab(LNOTAB_38, n, 1, off), b = pk_line_of_pep626(LINETABLE_310, n, 1, off);
            ck_assert(a >= 1 && a <= 7);
            ck_assert(b == -1 || (b >= 1 && b <= 7));
        }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("lnotab");
    TCase *tc = tcase_create("lnotab");
    tcase_add_test(tc, test_real_tables);
    tcase_add_test(tc, test_no_line_and_long_deltas);
    tcase_add_test(tc, test_cut_tables);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
