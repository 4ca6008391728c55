/* recorder/py_layout_read.c: the layout table read out of the agents
 * this build made for CPython 3.8-3.12 (build/lib/peeka/agent/cpXY, found
 * from this binary's place as peeka-rec finds them), and a clear refusal
 * of a file that is no such agent or is another version's. */
#include "../../recorder/bootstrap.h"
#include "../../recorder/py_layout_read.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What does not depend on the build's compiler: the object header, and
 * which version has which field. */
static void check_table(const pk_py_layout *l, int minor)
{
    ck_assert_uint_eq(l->py_major, 3);
    ck_assert_uint_eq(l->py_minor, (unsigned)minor);
    ck_assert_uint_eq(l->ob_type, 8);   /* after ob_refcnt */
    ck_assert_uint_eq(l->bytes_size, 16);
    ck_assert_uint_eq(l->str_ascii_size, minor >= 12 ? 40 : 48);   /* wstr went in 3.12 */
    ck_assert_int_eq(l->ts_native_id != 0, minor >= 11);
    ck_assert_int_eq(l->in_gil_ptr != 0, minor >= 12);
    ck_assert_int_eq(l->rt_gil != 0, minor < 12);
    ck_assert_int_eq(l->co_code_adaptive != 0, minor >= 11);
    ck_assert_uint_gt(l->fr_size, l->fr_instr);
}

START_TEST(test_built_agents)
{
    int found = 0;
    for (int minor = 8; minor <= 12; minor++) {
        pk_py_layout l;
        char why[600], path[4096];
        if (agent_path_for(3, minor, path, sizeof path, why, sizeof why) < 0)
            continue;   /* not built here */
        found++;
        ck_assert_msg(pk_py_layout_read(3, minor, &l, why, sizeof why) == 0, "3.%d: %s", minor, why);
        check_table(&l, minor);
        ck_assert_int_eq(pk_py_layout_from(path, 3, minor == 12 ? 8 : minor + 1, &l, why, sizeof why), -1);
        ck_assert_msg(strstr(why, ": its layout table is of another CPython version"), "%s", why);
        ck_assert_msg(!strncmp(why, "the agent ", 10), "%s", why);
    }
    if (!found)
        fprintf(stderr, "test_py_layout: no agent for 3.8-3.12 in this build\n");
}
END_TEST

START_TEST(test_no_agent)
{
    pk_py_layout l;
    char why[600];
    ck_assert_int_eq(pk_py_layout_from("/bin/sh", 3, 8, &l, why, sizeof why), -1);
    ck_assert_str_eq(why, "the agent /bin/sh: it has no layout table (an agent older than this "
                          "peeka: rebuild the agents)");
    ck_assert_int_eq(pk_py_layout_from("/nonexistent/agent.so", 3, 8, &l, why, sizeof why), -1);
    ck_assert_msg(strstr(why, "/nonexistent/agent.so"), "%s", why);
    ck_assert_int_eq(pk_py_layout_read(3, 7, &l, why, sizeof why), -1);
    ck_assert_msg(strstr(why, "no agent for Python 3.7"), "%s", why);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("py_layout");
    TCase *tc = tcase_create("py_layout");
    tcase_add_test(tc, test_built_agents);
    tcase_add_test(tc, test_no_agent);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
