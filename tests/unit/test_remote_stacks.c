/* recorder/remote_stacks.c against real CPython 3.8+ processes whose
 * stacks change under every read (tests/targets/racing_stacks.py): each
 * read succeeds, stays inside its bounds, and reports a stack it could not
 * finish as cut rather than garbage; the one thread that does not move is
 * read exactly.  Interpreters from PEEKA_TEST_PYTHONS (else
 * mk/pythons.sh); older ones are skipped.  Run from the repository root. */
#include "../../recorder/attach.h"
#include "../../recorder/proc_maps.h"
#include "../../recorder/remote_stacks.h"

#include <check.h>
#include <task_words.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define READS 300
#define DEPTH 64

static int main_line(const char *ready)
{
    for (int i = 0; i < 1000; i++) {   /* 10 s */
        FILE *f = fopen(ready, "re");
        int line = 0;
        if (f) {
            int ok = fscanf(f, "%d", &line) == 1;
            fclose(f);
            if (ok)
                return line;
        }
        struct timespec ts = {0, 10000000L};
        nanosleep(&ts, NULL);
    }
    return -1;
}

static pid_t start(const char *py, const char *ready)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl(py, py, "tests/targets/racing_stacks.py", ready, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Whether system call nr is time.sleep's: clock_nanosleep from 3.11 on,
 * select before. */
static int sleeping(long nr)
{
    const char *name = nr >= 0 ? pk_syscall_name(nr) : NULL;
    return name && (!strcmp(name, "clock_nanosleep") || !strcmp(name, "select") ||
                    !strcmp(name, "pselect6"));
}

/* Until the main thread sleeps on its known line (it writes the line
 * just before). */
static void wait_asleep(pid_t pid)
{
    pk_sysinfo si;
    for (int i = 0; i < 1000; i++) {
        if (pk_task_syscall(pid, pid, &si) == 0 && sleeping(si.nr))
            return;
        struct timespec ts = {0, 10000000L};
        nanosleep(&ts, NULL);
    }
    ck_abort_msg("pid %d never went to sleep", (int)pid);
}

/* One read, checked; returns how many of its stacks were cut short. */
static int check_read(const peeka_target *t, int line)
{
    rs_snapshot s;
    char err[300];
    ck_assert_msg(rs_read(t, DEPTH, &s, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(s.nthreads, 4);
    int cut = 0, main_seen = 0;
    for (size_t i = 0; i < s.nthreads; i++) {
        const rs_thread *th = &s.threads[i];
        ck_assert_int_le(th->nframes, DEPTH);
        ck_assert_int_ge(th->depth, th->nframes);
        ck_assert_int_le(th->depth, RS_WALK_MAX);
        for (int k = 0; k < th->nframes; k++) {
            ck_assert_int_lt(th->frames[k].code, (int)s.ncodes);
            const rs_code *c = &s.codes[th->frames[k].code];
            ck_assert_uint_lt(strlen(c->file), RS_FILE_MAX);
            ck_assert_uint_lt(strlen(c->func), RS_FUNC_MAX);
        }
        cut += th->cut != NULL;
        if (th->native_id == (uint64_t)t->pid) {   /* asleep on a known line */
            main_seen = 1;
            ck_assert_ptr_null(th->cut);
            ck_assert_int_eq(th->nframes, 1);
            ck_assert_str_eq(s.codes[th->frames[0].code].func, "<module>");
            ck_assert_int_eq(th->frames[0].line, line);
        }
    }
    ck_assert(main_seen);
    rs_free(&s);
    return cut;
}

START_TEST(test_racing_reads)
{
    const char *env = getenv("PEEKA_TEST_PYTHONS");
    char list[4096];
    snprintf(list, sizeof list, "%s", env && *env ? env : "");
    if (!list[0]) {
        FILE *p = popen("sh mk/pythons.sh --all | cut -d' ' -f2 | tr '\\n' ' '", "r");
        if (p && !fgets(list, sizeof list, p))
            list[0] = 0;
        if (p)
            pclose(p);
    }
    int tried = 0;
    for (char *save = NULL, *py = strtok_r(list, " \t\n", &save); py;
         py = strtok_r(NULL, " \t\n", &save)) {
        char dir[] = "/tmp/peeka-rstacks-XXXXXX", ready[64], err[512];
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(ready, sizeof ready, "%s/ready", dir);
        pid_t pid = start(py, ready);
        int line = main_line(ready);
        peeka_target t;
        int st = peeka_target_inspect(pid, &t, err, sizeof err);
        if (line > 0 && st == PA_OK && t.major == 3 && t.minor >= 8) {
            int cuts = 0;
            wait_asleep(pid);
            for (int i = 0; i < READS; i++)
                cuts += check_read(&t, line);
            ck_assert_int_lt(cuts, READS * 3);   /* most stacks are read whole */
            tried++;
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        unlink(ready);
        rmdir(dir);
        ck_assert_msg(line > 0, "%s never got ready", py);
        ck_assert_msg(st == PA_OK, "%s: %s", py, err);
    }
    if (!tried)
        fprintf(stderr, "test_remote_stacks: no CPython 3.8+ among the interpreters\n");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("remote_stacks");
    TCase *tc = tcase_create("remote_stacks");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_racing_reads);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
