/* Attaching to real CPython processes: every interpreter in
 * PEEKA_TEST_PYTHONS (else `sh mk/pythons.sh --all`), every scenario of
 * tests/targets/attach_*.py (busy, sleeping, idle in six ways, thread
 * churn), plus the refusals (no process, not Python, stopped, exiting,
 * seccomp, no safe point).  A target proves it was not disturbed by
 * printing "ok" when it ends: its sleeps lasted their full time and its
 * computations are right.  Run from the repository root. */
#include "../../recorder/attach.h"
#include "../../recorder/elf_symbols.h"
#include "../../recorder/inject.h"
#include "../../recorder/proc_maps.h"
#include "../../recorder/ptrace_thread.h"
#include "../../recorder/target_python.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PY 16
#define TARGETS "tests/targets"
#define INJECT_MS 10000

static char *g_py[MAX_PY];
static int g_npy;

/* ---- helpers ----------------------------------------------------------- */

static void load_pythons(void)
{
    const char *env = getenv("PEEKA_TEST_PYTHONS");
    char buf[4096] = "";
    if (env && *env) {
        snprintf(buf, sizeof buf, "%s", env);
    } else {
        FILE *p = popen("sh mk/pythons.sh --all | cut -d' ' -f2 | tr '\\n' ' '", "r");
        if (p) {
            if (!fgets(buf, sizeof buf, p))
                buf[0] = '\0';
            pclose(p);
        }
    }
    for (char *save = NULL, *tok = strtok_r(buf, " \t\n", &save); tok && g_npy < MAX_PY;
         tok = strtok_r(NULL, " \t\n", &save))
        g_py[g_npy++] = strdup(tok);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 16);
    if (buf) {
        size_t n = fread(buf, 1, (1 << 16) - 1, f);
        buf[n] = '\0';
    }
    fclose(f);
    return buf;
}

typedef struct target {
    pid_t pid;    /* the Python process (from its ready file) */
    pid_t parent; /* sh: our child, so that our ptrace waits never reap it */
    char dir[64];
    char ready[128], out[128], marker[128];
    int reaped, status;
} target;

static void make_dir(target *tg)
{
    snprintf(tg->dir, sizeof tg->dir, "/tmp/peeka-attach-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tg->dir));
    snprintf(tg->ready, sizeof tg->ready, "%s/ready", tg->dir);
    snprintf(tg->out, sizeof tg->out, "%s/out", tg->dir);
    snprintf(tg->marker, sizeof tg->marker, "%s/marker", tg->dir);
}

/* Starts `py tests/targets/script ready seconds mode` under a sh that
 * waits for it and exits with its status; does not wait. */
static void spawn(target *tg, const char *py, const char *script, const char *seconds,
                  const char *mode)
{
    memset(tg, 0, sizeof *tg);
    make_dir(tg);
    char path[256];
    snprintf(path, sizeof path, "%s/%s", TARGETS, script);
    ck_assert_msg(access(path, R_OK) == 0, "%s not found: run from the repository root", path);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(tg->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0 || chdir(TARGETS) != 0)
            _exit(126);
        setenv("PYTHONDONTWRITEBYTECODE", "1", 1);
        execl("/bin/sh", "sh", "-c", "\"$0\" \"$@\"; exit $?", py, script, tg->ready, seconds,
              mode, (char *)NULL);
        _exit(127);
    }
    tg->parent = pid;
}

static void wait_ready(target *tg)
{
    for (int i = 0; i < 600; i++) {
        if (access(tg->ready, F_OK) == 0) {
            char *p = read_file(tg->ready);
            tg->pid = p ? (pid_t)atol(p) : 0;
            free(p);
            ck_assert_int_gt(tg->pid, 0);
            sleep_ms(100); /* let it settle into its steady state */
            return;
        }
        int st;
        if (waitpid(tg->parent, &st, WNOHANG) == tg->parent) {
            char *o = read_file(tg->out);
            ck_abort_msg("target exited before it was ready: %s", o ? o : "");
        }
        sleep_ms(25);
    }
    ck_abort_msg("target %d never became ready", (int)tg->pid);
}

static int wait_exit(target *tg, int max_ms)
{
    for (int waited = 0; !tg->reaped && waited <= max_ms; waited += 20) {
        if (waitpid(tg->parent, &tg->status, WNOHANG) == tg->parent)
            tg->reaped = 1;
        else
            sleep_ms(20);
    }
    return tg->reaped;
}

static void remove_dir(target *tg)
{
    unlink(tg->ready);
    unlink(tg->out);
    unlink(tg->marker);
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", tg->ready);
    unlink(tmp);
    rmdir(tg->dir);
}

/* Waits for the target's end; asserts it exited 0 with "ok" last and no
 * traceback anywhere in its output. */
static void finish_ok(target *tg, const char *what)
{
    if (!wait_exit(tg, 30000)) {
        kill(tg->pid, SIGKILL);
        kill(tg->parent, SIGKILL);
        wait_exit(tg, 5000);
        ck_abort_msg("%s: target did not finish", what);
    }
    char *o = read_file(tg->out);
    ck_assert_ptr_nonnull(o);
    size_t n = strlen(o);
    int ok_last = n >= 3 && strcmp(o + n - 3, "ok\n") == 0;
    int clean = !strstr(o, "Traceback") && !strstr(o, "Error") && !strstr(o, "FAIL");
    int exited0 = WIFEXITED(tg->status) && WEXITSTATUS(tg->status) == 0;
    if (!(ok_last && clean && exited0))
        ck_abort_msg("%s: target disturbed (status %#x): %.400s", what, tg->status,
                     n > 400 ? o + n - 400 : o);
    free(o);
    remove_dir(tg);
}

static void kill_target(target *tg)
{
    if (!tg->reaped) {
        if (tg->pid > 0)
            kill(tg->pid, SIGKILL);
        kill(tg->parent, SIGKILL);
        wait_exit(tg, 5000);
    }
    remove_dir(tg);
}

/* No thread of pid is stopped or traced. */
static void assert_free(pid_t pid, const char *what)
{
    pid_t *tids;
    size_t n;
    if (pk_tasks_list(pid, &tids, &n) != 0)
        return; /* exited meanwhile */
    for (size_t i = 0; i < n; i++) {
        pk_status st;
        if (pk_status_read(pid, tids[i], &st) != 0)
            continue;
        ck_assert_msg(st.state != 'T' && st.state != 't' && st.tracer_pid == 0,
                      "%s: thread %d left in state %c traced by %d", what, (int)tids[i],
                      st.state, (int)st.tracer_pid);
    }
    free(tids);
}

static int count_beats(const char *out)
{
    char *o = read_file(out);
    int n = 0;
    for (char *p = o; p && (p = strstr(p, "beat ")) != NULL; p += 5)
        n++;
    free(o);
    return n;
}

static int inject(pid_t pid, const char *code, int ms, char *err, size_t errlen)
{
    peeka_target t;
    int rc = peeka_target_inspect(pid, &t, err, errlen);
    if (rc != PA_OK)
        return rc;
    return peeka_inject_python(&t, code, ms, err, errlen);
}

static void inject_marker(target *tg, const char *what)
{
    char code[512], err[512];
    snprintf(code, sizeof code,
             "import threading\nopen(%s%s%s, 'w').write(repr(threading.get_ident()))\n", "'",
             tg->marker, "'");
    int rc = inject(tg->pid, code, INJECT_MS, err, sizeof err);
    ck_assert_msg(rc == PA_OK, "%s: inject -> %s: %s", what, peeka_attach_status_name(rc), err);
    /* PA_OK with a note means: handed to the helper thread, not yet done. */
    for (int i = 0; i < 500 && access(tg->marker, F_OK) != 0; i++)
        sleep_ms(10);
    char *m = read_file(tg->marker);
    ck_assert_msg(m && atol(m) > 0, "%s: marker not written (route %s, note '%s')", what,
                  pk_last_route(), err);
    free(m);
    assert_free(tg->pid, what);
}

/* ---- inspection -------------------------------------------------------- */

START_TEST(test_inspect_versions)
{
    const char *py = g_py[_i];
    char cmd[4200], buf[64] = "";
    snprintf(cmd, sizeof cmd, "%s -c \"import sys; print('%%d %%d %%d' %% sys.version_info[:3])\"",
             py);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(fgets(buf, sizeof buf, p));
    pclose(p);
    int ma, mi, mc;
    ck_assert_int_eq(sscanf(buf, "%d %d %d", &ma, &mi, &mc), 3);

    target tg;
    spawn(&tg, py, "attach_idle.py", "2", "sleep");
    wait_ready(&tg);
    peeka_target t;
    char err[512];
    int rc = peeka_target_inspect(tg.pid, &t, err, sizeof err);
    ck_assert_msg(rc == PA_OK, "%s: %s", py, err);
    ck_assert_int_eq(t.major, ma);
    ck_assert_int_eq(t.minor, mi);
    if (t.micro >= 0)
        ck_assert_int_eq(t.micro, mc);
    if (mi >= 11)
        ck_assert_int_eq(t.micro, mc); /* Py_Version or _Py_DebugOffsets */
    const char *base = strrchr(t.python_image, '/');
    ck_assert_msg(t.image_is_exe ? strcmp(t.python_image, t.exe) == 0
                                 : strncmp(base + 1, "libpython", 9) == 0,
                  "%s: image %s", py, t.python_image);
    ck_assert(t.gilstate_ensure && t.run_simple_string && t.add_pending_call &&
              t.start_new_thread && t.libc_munmap && t.syscall_insn);
    kill_target(&tg);
}
END_TEST

START_TEST(test_elf_layouts)
{
    /* Debian's python3.11 holds the API in a non-PIE executable (bias 0);
     * pyenv's in libpython (PIC).  Both must give the same symbols. */
    pk_elf e;
    char err[256];
    if (pk_elf_open("/usr/bin/python3.11", &e, err, sizeof err) == 0) {
        ck_assert(pk_elf_symbol(&e, "PyRun_SimpleString", NULL) != 0);
        ck_assert(pk_elf_symbol(&e, "_PyRuntime", NULL) != 0);
        pk_elf_close(&e);
    }
    ck_assert_int_ne(pk_elf_open("/etc/hostname", &e, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "ELF"));
    ck_assert_int_ne(pk_elf_open("/nonexistent", &e, err, sizeof err), 0);
    int ma, mi;
    ck_assert_int_eq(pk_version_from_name("/x/libpython3.12.so.1.0", &ma, &mi), 0);
    ck_assert(ma == 3 && mi == 12);
    ck_assert_int_eq(pk_version_from_name("/usr/bin/python3.8", &ma, &mi), 0);
    ck_assert(ma == 3 && mi == 8);
    ck_assert_int_ne(pk_version_from_name("/bin/sleep", &ma, &mi), 0);
}
END_TEST

START_TEST(test_wrap_code)
{
    char *w = pk_wrap_code("print('a\\\\b')\n\x01");
    ck_assert_ptr_nonnull(w);
    ck_assert_ptr_nonnull(strstr(w, "b'print(\\x27a\\x5c\\x5cb\\x27)\\x0a\\x01'"));
    /* bare excepts: naming an exception is a lookup that fails while the
     * interpreter tears builtins down, and would escape to stderr */
    ck_assert_ptr_nonnull(strstr(w, "except:\n    try:"));
    ck_assert_ptr_null(strstr(w, "except BaseException"));
    free(w);
}
END_TEST

/* ---- scenarios --------------------------------------------------------- */

struct scenario {
    const char *script, *mode;
    int beats; /* prints heartbeats: check it keeps doing so */
};

static const struct scenario SCENARIOS[] = {
    {"attach_busy.py", "", 1},          /* (1) busy main thread, single */
    {"attach_sleep_worker.py", "", 1},  /* (2) main sleeps, worker busy */
    {"attach_idle.py", "sleep", 0},     /* (3) every thread asleep ... */
    {"attach_idle.py", "join", 0},
    {"attach_idle.py", "select", 0},
    {"attach_idle.py", "event", 0},
    {"attach_idle.py", "asyncio", 0},
    {"attach_idle.py", "http", 0},
    {"attach_churn.py", "", 1},         /* (4) threads come and go */
    {"attach_churn.py", "busy", 1},
};
#define NSCEN (sizeof SCENARIOS / sizeof SCENARIOS[0])

START_TEST(test_scenarios)
{
    const char *py = g_py[_i];
    target tg[NSCEN];
    int before[NSCEN];
    for (size_t k = 0; k < NSCEN; k++)
        spawn(&tg[k], py, SCENARIOS[k].script, "3", SCENARIOS[k].mode);
    for (size_t k = 0; k < NSCEN; k++)
        wait_ready(&tg[k]);
    for (size_t k = 0; k < NSCEN; k++) {
        char what[256];
        snprintf(what, sizeof what, "%s %s %s", py, SCENARIOS[k].script, SCENARIOS[k].mode);
        inject_marker(&tg[k], what);
        before[k] = count_beats(tg[k].out);
    }
    for (size_t k = 0; k < NSCEN; k++) {
        if (!SCENARIOS[k].beats)
            continue;
        for (int i = 0; i < 300 && count_beats(tg[k].out) <= before[k] + 1; i++)
            sleep_ms(10);
        ck_assert_msg(count_beats(tg[k].out) > before[k] + 1, "%s %s: stopped beating", py,
                      SCENARIOS[k].script);
    }
    for (size_t k = 0; k < NSCEN; k++) {
        char what[256];
        snprintf(what, sizeof what, "%s %s %s", py, SCENARIOS[k].script, SCENARIOS[k].mode);
        finish_ok(&tg[k], what);
    }
}
END_TEST

/* 100 injections in a row into one multi-threaded busy target; each adds
 * one to a counter kept in sys, a last one writes it out. */
START_TEST(test_hundred)
{
    const char *py = g_py[_i];
    target tg;
    spawn(&tg, py, "attach_churn.py", "60", "busy");
    wait_ready(&tg);
    char err[512];
    for (int k = 0; k < 100; k++) {
        int rc = inject(tg.pid, "import sys\nsys._peeka_n = getattr(sys, '_peeka_n', 0) + 1\n",
                        INJECT_MS, err, sizeof err);
        ck_assert_msg(rc == PA_OK && !err[0], "%s: injection %d -> %s: %s", py, k,
                      peeka_attach_status_name(rc), err);
    }
    char code[512];
    snprintf(code, sizeof code, "import sys\nopen('%s', 'w').write(str(sys._peeka_n))\n",
             tg.marker);
    int rc = inject(tg.pid, code, INJECT_MS, err, sizeof err);
    ck_assert_msg(rc == PA_OK && !err[0], "%s: final -> %s", py, err);
    char *m = read_file(tg.marker);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(m, "100");
    free(m);
    assert_free(tg.pid, py);
    int b = count_beats(tg.out);
    for (int i = 0; i < 300 && count_beats(tg.out) <= b + 1; i++)
        sleep_ms(10);
    ck_assert_msg(count_beats(tg.out) > b + 1, "%s: stopped beating", py);
    kill_target(&tg);
}
END_TEST

/* ---- refusals ---------------------------------------------------------- */

START_TEST(test_no_process)
{
    peeka_target t;
    char err[512];
    ck_assert_int_eq(peeka_target_inspect(0x3ffffff0, &t, err, sizeof err), PA_NOPROC);
    ck_assert_ptr_nonnull(strstr(err, "no process with pid"));
}
END_TEST

START_TEST(test_zombie)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(0);
    pk_status st;
    for (int i = 0; i < 200 && pk_status_read(pid, 0, &st) == 0 && st.state != 'Z'; i++)
        sleep_ms(5);
    peeka_target t;
    char err[512];
    int rc = peeka_target_inspect(pid, &t, err, sizeof err);
    waitpid(pid, NULL, 0);
    ck_assert_msg(rc == PA_EXITED, "%s: %s", peeka_attach_status_name(rc), err);
}
END_TEST

START_TEST(test_not_python)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl("/bin/sleep", "sleep", "30", (char *)NULL);
        _exit(127);
    }
    sleep_ms(150);
    peeka_target t;
    char err[512], pids[32];
    int rc = peeka_target_inspect(pid, &t, err, sizeof err);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    ck_assert_int_eq(rc, PA_NOTPYTHON);
    snprintf(pids, sizeof pids, "pid %d", (int)pid);
    ck_assert_ptr_nonnull(strstr(err, pids));
    ck_assert_ptr_nonnull(strstr(err, "sleep"));
}
END_TEST

START_TEST(test_stopped)
{
    const char *py = g_py[_i];
    target tg;
    spawn(&tg, py, "attach_idle.py", "1", "sleep");
    wait_ready(&tg);
    ck_assert_int_eq(kill(tg.pid, SIGSTOP), 0);
    pk_status st;
    for (int i = 0; i < 100 && pk_status_read(tg.pid, 0, &st) == 0 && st.state != 'T'; i++)
        sleep_ms(10);
    char err[512];
    int rc = inject(tg.pid, "import os", INJECT_MS, err, sizeof err);
    ck_assert_msg(rc == PA_STOPPED, "%s: %s %s", py, peeka_attach_status_name(rc), err);
    ck_assert_ptr_nonnull(strstr(err, "kill -CONT"));
    ck_assert_int_eq(pk_status_read(tg.pid, 0, &st), 0);
    ck_assert_int_eq(st.state, 'T'); /* still stopped, as its owner wants */
    kill(tg.pid, SIGCONT);
    finish_ok(&tg, py);
}
END_TEST

/* Injections while the target exits: each call returns a verdict, none
 * hangs, and once it is gone PA_NOPROC. */
START_TEST(test_exiting)
{
    const char *py = g_py[_i];
    target tg;
    spawn(&tg, py, "attach_idle.py", "0.3", "sleep");
    wait_ready(&tg);
    char err[512];
    int last = PA_OK;
    for (int k = 0; k < 100000; k++) {
        peeka_target t;
        last = peeka_target_inspect(tg.pid, &t, err, sizeof err);
        if (last == PA_OK)
            last = peeka_inject_python(&t, "x = 1", 2000, err, sizeof err);
        ck_assert_msg(last == PA_OK || last == PA_EXITED || last == PA_NOPROC,
                      "%s: %s: %s", py, peeka_attach_status_name(last), err);
        if (last == PA_NOPROC)
            break;
    }
    ck_assert_int_eq(last, PA_NOPROC); /* it did end meanwhile */
    finish_ok(&tg, py);
}
END_TEST

/* Main thread inside a long C call: no safe point before the deadline.
 * PA_TIMEOUT, and the withdrawn code must never run later. */
START_TEST(test_no_safe_point)
{
    const char *py = g_py[_i];
    target tg;
    spawn(&tg, py, "attach_cbusy.py", "2", "");
    wait_ready(&tg);
    char code[512], err[512];
    snprintf(code, sizeof code, "open('%s', 'w').write('late')", tg.marker);
    int rc = inject(tg.pid, code, 300, err, sizeof err);
    ck_assert_msg(rc == PA_TIMEOUT, "%s: %s %s", py, peeka_attach_status_name(rc), err);
    assert_free(tg.pid, py);
    char marker[160];
    snprintf(marker, sizeof marker, "%s", tg.marker);
    ck_assert(wait_exit(&tg, 30000));
    ck_assert_msg(access(marker, F_OK) != 0, "%s: withdrawn code ran anyway", py);
    tg.reaped = 1;
    finish_ok(&tg, py);
}
END_TEST

START_TEST(test_seccomp)
{
    const char *py = g_py[_i];
    target tg;
    spawn(&tg, py, "attach_seccomp.py", "1", "");
    wait_ready(&tg);
    char err[512];
    int rc = inject(tg.pid, "x = 1", INJECT_MS, err, sizeof err);
    ck_assert_msg(rc == PA_SECCOMP, "%s: %s %s", py, peeka_attach_status_name(rc), err);
    ck_assert_ptr_nonnull(strstr(err, "seccomp"));
    assert_free(tg.pid, py);
    finish_ok(&tg, py);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("attach");
    TCase *tc = tcase_create("unit");
    tcase_add_test(tc, test_elf_layouts);
    tcase_add_test(tc, test_wrap_code);
    tcase_add_test(tc, test_no_process);
    tcase_add_test(tc, test_not_python);
    tcase_add_test(tc, test_zombie);
    suite_add_tcase(s, tc);
    TCase *live = tcase_create("live");
    tcase_set_timeout(live, 120);
    tcase_add_loop_test(live, test_inspect_versions, 0, g_npy);
    tcase_add_loop_test(live, test_scenarios, 0, g_npy);
    tcase_add_loop_test(live, test_hundred, 0, g_npy);
    tcase_add_loop_test(live, test_stopped, 0, g_npy);
    tcase_add_loop_test(live, test_exiting, 0, g_npy);
    tcase_add_loop_test(live, test_no_safe_point, 0, g_npy);
    tcase_add_loop_test(live, test_seccomp, 0, g_npy);
    suite_add_tcase(s, live);
    return s;
}

int main(void)
{
    load_pythons();
    if (g_npy == 0) {
        fprintf(stderr, "test_attach: no interpreter (PEEKA_TEST_PYTHONS empty and "
                        "mk/pythons.sh found none)\n");
        return 1;
    }
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    for (int i = 0; i < g_npy; i++)
        free(g_py[i]);
    return failed ? 1 : 0;
}
