/* recorder/launch_flags.c: which launched commands will never read the
 * sitecustomize on PYTHONPATH (python -I, -S, -E on the command line or in
 * a #! line), parsed as CPython's own getopt does. */
#include "../../recorder/launch_flags.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ARGS 12

/* Splits a command line on spaces (no quoting needed here). */
static int skips(const char *cmd, char *flag, size_t flaglen)
{
    char buf[512], *argv[MAX_ARGS + 1];
    int n = 0;
    snprintf(buf, sizeof buf, "%s", cmd);
    for (char *save = NULL, *w = strtok_r(buf, " ", &save); w && n < MAX_ARGS;
         w = strtok_r(NULL, " ", &save))
        argv[n++] = w;
    argv[n] = NULL;
    return launch_flags_skip_site(argv, flag, flaglen);
}

static void expect(const char *cmd, const char *flag)
{
    char got[8] = "";
    int r = skips(cmd, got, sizeof got);
    ck_assert_msg(r == (flag != NULL), "%s: %d", cmd, r);
    if (flag)
        ck_assert_str_eq(got, flag);
}

START_TEST(test_command_lines)
{
    expect("python3 -I app.py", "-I");
    expect("python3 -S app.py", "-S");
    expect("python3 -E app.py", "-E");
    expect("/usr/bin/python3.11 -sIu app.py", "-I");
    expect("python3 -X utf8 -E app.py", "-E");
    expect("python3 -Xutf8 -S app.py", "-S");
    expect("python3 -W ignore -I -m pkg", "-I");
    expect("python3 --check-hash-based-pycs always -S app.py", "-S");
    expect("python3.14-shared -E -c pass", "-E");
    expect("/venv/bin/python -I app.py", "-I");
    /* the sitecustomize runs */
    expect("python3 app.py -I", NULL);          /* the program's own argument */
    expect("python3 -c -I", NULL);              /* -c ends the options */
    expect("python3 -cI", NULL);
    expect("python3 -m mod -S", NULL);
    expect("python3 -W I app.py", NULL);        /* -W's value */
    expect("python3 -X E app.py", NULL);
    expect("python3 -- -I", NULL);
    expect("python3 - -E", NULL);               /* stdin, then its argument */
    expect("python3 -s -u -B app.py", NULL);
    expect("sh -c python3 -I", NULL);           /* not Python: the sitecustomize route */
    expect("python3", NULL);
}
END_TEST

static void expect_shebang(const char *line, const char *flag)
{
    char got[8] = "";
    int r = launch_shebang_skips_site(line, got, sizeof got);
    ck_assert_msg(r == (flag != NULL), "%s: %d", line, r);
    if (flag)
        ck_assert_str_eq(got, flag);
}

START_TEST(test_shebang_lines)
{
    expect_shebang("#!/usr/bin/python3 -I\n", "-I");
    expect_shebang("#! /usr/bin/python3 -Es\nimport sys\n", "-E");
    expect_shebang("#!/usr/bin/env -S python3 -S\n", "-S");
    expect_shebang("#!/usr/bin/env -S PYTHONHASHSEED=0 python3 -I\n", "-I");
    expect_shebang("#!/usr/bin/python3\n", NULL);
    expect_shebang("#!/usr/bin/env python3\n", NULL);
    expect_shebang("#!/usr/bin/env python3 -I\n", NULL);   /* env gets one word "python3 -I" */
    expect_shebang("#!/bin/sh -e\n", NULL);
    expect_shebang("#!\n", NULL);
    expect_shebang("\x7f" "ELF", NULL);
    expect_shebang("import sys\n", NULL);
}
END_TEST

START_TEST(test_script_on_disk)
{
    char dir[] = "/tmp/peeka-flags-XXXXXX", path[64], flag[8] = "";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/tool", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("#!/usr/bin/python3 -I\nprint(1)\n", f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(chmod(path, 0755), 0);
    char *argv[] = {path, "arg", NULL};
    ck_assert_int_eq(launch_skips_site(argv, flag, sizeof flag), 1);
    ck_assert_str_eq(flag, "-I");
    /* found on PATH, as execvp would */
    char *saved = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
    ck_assert_int_eq(setenv("PATH", dir, 1), 0);
    char *byname[] = {"tool", NULL};
    ck_assert_int_eq(launch_skips_site(byname, flag, sizeof flag), 1);
    char *missing[] = {"no-such-tool", NULL};
    ck_assert_int_eq(launch_skips_site(missing, flag, sizeof flag), 0);
    if (saved) {
        ck_assert_int_eq(setenv("PATH", saved, 1), 0);
        free(saved);
    }
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("launch_flags");
    TCase *tc = tcase_create("launch_flags");
    tcase_add_test(tc, test_command_lines);
    tcase_add_test(tc, test_shebang_lines);
    tcase_add_test(tc, test_script_on_disk);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
