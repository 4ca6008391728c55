/* peeka-rec --uninstall PID.  Through the pre-installed agent when the
 * process has one (no ptrace), else by running the same purge through an
 * attach; a process that never loaded the agent is left untouched.  The
 * target writes what it removed into our run directory. */
#include "uninstall.h"
#include "attach_target.h"
#include "bootstrap.h"
#include "exitcodes.h"
#include "installed_agent.h"
#include "proc_maps.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* 1: /proc/PID/maps shows no agent, so there is nothing to remove; 0: it
 * does, or maps cannot be read (the attach will say why); -1: no process. */
static int agent_absent(pid_t pid)
{
    int rc = pk_agent_mapped(pid);
    return rc == -ENOENT ? -1 : rc == 0;
}

static int process_alive(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    return access(path, F_OK) == 0;
}

/* The report the target wrote (a rename: complete when it exists). */
static int await_report(pid_t pid, const rundir *rd, int timeout_ms, char *out, size_t n,
                        char *err, size_t errlen)
{
    char path[400];
    snprintf(path, sizeof path, "%s/uninstall-report", rd->dir);
    struct timespec tick = {0, 10 * 1000000};
    for (int waited = 0; waited < timeout_ms; waited += 10) {
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t got = read(fd, out, n - 1);
            close(fd);
            out[got > 0 ? got : 0] = 0;
            out[strcspn(out, "\n")] = 0;
            return EX_OK_REC;
        }
        if (!process_alive(pid)) {
            snprintf(err, errlen, "process %d exited before it said what it removed", (int)pid);
            return EX_EXITED;
        }
        nanosleep(&tick, NULL);
    }
    snprintf(err, errlen, "process %d did not say what it removed within %d ms", (int)pid, timeout_ms);
    return EX_TIMEOUT;
}

/* Through the pre-installed agent if there is one, else an attach. */
static int ask(const rec_options *o, rundir *rd, char *err, size_t errlen)
{
    installed_agent ia;
    if (installed_find(o->pid, &ia, err, errlen))
        return installed_request(o->pid, &ia, rd, "uninstall", err, errlen);
    char *code = bootstrap_uninstall_code(rd);
    if (!code) {
        snprintf(err, errlen, "out of memory");
        return EX_INTERNAL;
    }
    attach_info ai = {0};
    err[0] = 0;
    int rc = attach_run_code(o->pid, o, rd, code, &ai, err, errlen);
    free(code);
    return rc;
}

int uninstall_run(const rec_options *o)
{
    char err[1024] = "", report[4096] = "";
    int absent = agent_absent(o->pid);
    if (absent < 0) {
        fprintf(stderr, "peeka-rec: no such process %d\n", (int)o->pid);
        return EX_NOPROC;
    }
    installed_agent ia;
    char why[512];
    if (absent && !installed_find(o->pid, &ia, why, sizeof why)) {
        printf("peeka-rec: pid %d: nothing to remove\n", (int)o->pid);
        return EX_OK_REC;
    }
    rundir rd;
    int rc = rundir_create(&rd, err, sizeof err) < 0 ? EX_INTERNAL : ask(o, &rd, err, sizeof err);
    if (rc == EX_OK_REC)
        rc = await_report(o->pid, &rd, (int)(o->attach_timeout_s * 1000), report, sizeof report,
                          err, sizeof err);
    installed_withdraw(rc, err, sizeof err);
    rundir_remove(&rd);
    if (rc == EX_OK_REC && !strncmp(report, "ERROR: ", 7)) {
        snprintf(err, sizeof err, "process %d could not remove everything: %.900s", (int)o->pid, report + 7);
        rc = EX_ATTACH;
    }
    if (rc != EX_OK_REC) {
        fprintf(stderr, "peeka-rec: %s\n", err);
        return rc;
    }
    if (report[0])
        printf("peeka-rec: pid %d: removed %s\n", (int)o->pid, report);
    else
        printf("peeka-rec: pid %d: nothing to remove\n", (int)o->pid);
    return EX_OK_REC;
}
