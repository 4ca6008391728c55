/* recorder/line_table.c: CPython's location table decoded as CPython does
 * (Objects/locations.md), on a real table and on every entry form, and
 * bounded on cut or garbled ones (what a racing read can return). */
#include "../../recorder/line_table.h"

#include <check.h>
#include <stdlib.h>

/* co_linetable of this function, compiled by CPython 3.11 (the format is
 * the same through 3.15), and the line of each of its 41 code units as
 * its co_lines() gives them:
 *
 * def f(a, b):
 *     x = a + b
 *     if x > 3:
 *         y = [i
 *              for i in range(x)]
 *     return (x,
 *             a)
 */
static const uint8_t REAL[] = {
    0x80, 0x00, 0xd8, 0x08, 0x09, 0x88, 0x41, 0x89, 0x05, 0x80, 0x41, 0xd8, 0x07, 0x08, 0x88,
    0x31, 0x82, 0x75, 0x80, 0x75, 0xf0, 0x02, 0x01, 0x0d, 0x20, 0xf0, 0x00, 0x01, 0x0d, 0x20,
    0xdd, 0x16, 0x1b, 0x98, 0x41, 0x91, 0x68, 0x94, 0x68, 0xf0, 0x03, 0x01, 0x0d, 0x20, 0xf1,
    0x00, 0x01, 0x0d, 0x20, 0xf4, 0x00, 0x01, 0x0d, 0x20, 0x88, 0x01, 0xe0, 0x0c, 0x0d, 0xd8,
    0x0c, 0x0d, 0xf0, 0x03, 0x01, 0x0c, 0x0f, 0xf0, 0x00, 0x01, 0x05, 0x0f};
static const int REAL_LINES[41] = {1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 4, 4, 5, 5, 5, 5, 5, 5, 5,
                                   5, 5, 5, 5, 5, 5, 5, 4, 4, 4, 4, 4, 4, 4, 4, 4, 6, 7, 6, 6};

START_TEST(test_real_table)
{
    for (int u = 0; u < 41; u++)
        ck_assert_int_eq(pk_line_of(REAL, sizeof REAL, 1, u), REAL_LINES[u]);
    ck_assert_int_eq(pk_line_of(REAL, sizeof REAL, 1, 41), -1);    /* past the code */
    ck_assert_int_eq(pk_line_of(REAL, sizeof REAL, 1, -1), -1);
    ck_assert_int_eq(pk_line_of(REAL, sizeof REAL, 101, 38), 107); /* relative to firstlineno */
}
END_TEST

START_TEST(test_every_form)
{
    const uint8_t t[] = {
        0xf8,                         /* 15 no location, 1 unit */
        0xe9, 0x04,                   /* 13 no columns, 2 units, +2 */
        0xd0, 0x03, 0x04,             /* 10 one line +0, 1 unit */
        0xe0, 0x07, 0x08,             /* 12 one line +2, 1 unit */
        0x83, 0x11,                   /* 0 short form, same line, 4 units */
        0xf0, 0x03, 0x00, 0x01, 0x01, /* 14 long form, -1, 1 unit */
        0xf8,                         /* no location again */
        0xb8, 0x02,                   /* 7 short form, 1 unit: the line before the gap */
    };
    int want[] = {-1, 12, 12, 12, 14, 14, 14, 14, 14, 13, -1, 13};
    for (int u = 0; u < 12; u++)
        ck_assert_msg(pk_line_of(t, sizeof t, 10, u) == want[u], "unit %d: %d, not %d", u,
                      pk_line_of(t, sizeof t, 10, u), want[u]);
}
END_TEST

START_TEST(test_cut_and_garbled)
{
    /* a varint cut short, an operand byte where an entry should start,
     * an empty table, a continuation that never ends */
    const uint8_t cut[] = {0xe8, 0x41};
    const uint8_t garbled[] = {0x05, 0x80};
    const uint8_t operands[] = {0x80, 0x00, 0x05, 0x80};
    const uint8_t endless[] = {0xe8, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40,
                               0x40, 0x40, 0x40, 0x40};
    ck_assert_int_eq(pk_line_of(cut, sizeof cut, 1, 0), -1);
    ck_assert_int_eq(pk_line_of(garbled, sizeof garbled, 1, 0), -1);
    ck_assert_int_eq(pk_line_of(operands, sizeof operands, 1, 0), 1);
    ck_assert_int_eq(pk_line_of(operands, sizeof operands, 1, 1), 1);   /* 0x05 was an operand */
    ck_assert_int_eq(pk_line_of(operands, sizeof operands, 1, 2), -1);
    ck_assert_int_eq(pk_line_of(REAL, 0, 1, 0), -1);
    ck_assert_int_eq(pk_line_of(endless, sizeof endless, 1, 0), -1);
    for (size_t len = 0; len < sizeof REAL; len++)   /* every cut of a real table stays inside it */
        ck_assert_int_ge(pk_line_of(REAL, len, 1, 40), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("line_table");
    TCase *tc = tcase_create("line_table");
    tcase_add_test(tc, test_real_table);
    tcase_add_test(tc, test_every_form);
    tcase_add_test(tc, test_cut_and_garbled);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
