/* Injection latency: how long peeka_inject_python() takes from "pid given"
 * to "code has run", N times in a row, optionally next to gdb doing the
 * same (gdb -p PID -batch, PyGILState_Ensure + PyRun_SimpleString).
 *   attach_latency [-n N] [-c CODE] [--gdb] PID
 * Prints one line per measure: name, runs, min / median / max in ms, and
 * the ratio of the gdb median to ours when --gdb is given. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attach.h"
#include "inject.h"
#include "ptrace_thread.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double report(const char *name, double *ms, int n)
{
    qsort(ms, (size_t)n, sizeof *ms, cmp_double);
    printf("%-22s runs %3d  min %8.3f  median %8.3f  max %8.3f ms\n", name, n, ms[0],
           ms[n / 2], ms[n - 1]);
    return ms[n / 2];
}

static int run_gdb(pid_t pid, const char *code)
{
    char call[4096];
    snprintf(call, sizeof call, "call (int)PyRun_SimpleString(\"%s\")", code);
    fflush(stdout); /* the child must not inherit and re-print our buffer */
    pid_t child = fork();
    if (child < 0)
        return -1;
    if (child == 0) {
        char pids[32];
        snprintf(pids, sizeof pids, "%d", (int)pid);
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
            _exit(127);
        execl("/usr/bin/gdb", "gdb", "-q", "-batch", "-nx", "-p", pids, "-ex",
              "set $g = (int)PyGILState_Ensure()", "-ex", call, "-ex",
              "call (void)PyGILState_Release($g)", (char *)NULL);
        _exit(127);
    }
    int st;
    if (waitpid(child, &st, 0) != child)
        return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    int n = 20, gdb = 0;
    const char *code = "pass";
    int i = 1;
    for (; i < argc - 1; i++) {
        if (strcmp(argv[i], "-n") == 0)
            n = atoi(argv[++i]);
        else if (strcmp(argv[i], "-c") == 0)
            code = argv[++i];
        else if (strcmp(argv[i], "--gdb") == 0)
            gdb = 1;
    }
    if (i != argc - 1 || n < 1) {
        fprintf(stderr, "usage: attach_latency [-n N] [-c CODE] [--gdb] PID\n");
        return 2;
    }
    pid_t pid = (pid_t)atoi(argv[i]);
    double *ms = calloc((size_t)n, sizeof *ms);
    if (!ms)
        return 1;
    char err[512];
    for (int k = 0; k < n; k++) {
        int64_t t0 = pk_now_ns();
        peeka_target t;
        int rc = peeka_target_inspect(pid, &t, err, sizeof err);
        if (rc == PA_OK)
            rc = peeka_inject_python(&t, code, 5000, err, sizeof err);
        if (rc != PA_OK) {
            fprintf(stderr, "attach_latency: run %d: %s: %s\n", k,
                    peeka_attach_status_name(rc), err);
            free(ms);
            return 1;
        }
        ms[k] = (double)(pk_now_ns() - t0) / 1e6;
    }
    printf("route: %s\n", pk_last_route());
    double ours = report("peeka_inject_python", ms, n);
    if (gdb) {
        int g = n < 5 ? n : 5;
        for (int k = 0; k < g; k++) {
            int64_t t0 = pk_now_ns();
            if (run_gdb(pid, code) != 0) {
                fprintf(stderr, "attach_latency: gdb injection failed\n");
                free(ms);
                return 1;
            }
            ms[k] = (double)(pk_now_ns() - t0) / 1e6;
        }
        double theirs = report("gdb -batch", ms, g);
        printf("gdb / peeka median ratio: %.1f\n", theirs / ours);
    }
    free(ms);
    return 0;
}
