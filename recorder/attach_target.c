#include "attach_target.h"
#include "attach.h"
#include "bootstrap.h"
#include "exitcodes.h"
#include "inject.h"
#include "inject_gdb.h"
#include "proc_maps.h"
#include "remote_dump.h"
#include "remote_exec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int attach_status_to_exit(int st)
{
    switch (st) {
    case PA_NOPROC: return EX_NOPROC;
    case PA_NOTPYTHON: case PA_UNSUPPORTED: return EX_NOTPYTHON;
    case PA_PERM: case PA_DISABLED: return EX_PERM;
    case PA_STOPPED: return EX_STOPPED;
    case PA_SECCOMP: return EX_SECCOMP;
    case PA_EXITED: return EX_EXITED;
    case PA_TIMEOUT: return EX_TIMEOUT;
    default: return EX_ATTACH;
    }
}

/* prefix + code in one string (code is freed); NULL when out of memory. */
static char *with_prefix(const char *prefix, char *code)
{
    if (!prefix || !code)
        return code;
    size_t a = strlen(prefix), b = strlen(code);
    char *both = malloc(a + b + 1);
    if (both) {
        memcpy(both, prefix, a);
        memcpy(both + a, code, b + 1);
    }
    free(code);
    return both;
}

/* How long the PEP 768 route waits for a thread to reach a safe point
 * before --via auto withdraws the request and uses ptrace (an idle process
 * blocked in epoll_wait would never get there). */
#define REMOTE_EXEC_GRACE_MS 250

/* PEP 768 first where it exists (3.14+): the interpreter runs our file at
 * a safe point of its own choosing, nothing is injected.  PA_NOROUTE lets
 * --via auto go on with ptrace; the reason is kept for session.json. */
static int try_remote_exec(const rec_options *o, const peeka_target *t, rundir *rd,
                           const char *code, attach_info *ai, char *err, size_t errlen)
{
    int forced = !strcmp(o->via, "remote-exec");
    if (!forced && (t->major < 3 || (t->major == 3 && t->minor < 14)))
        return PA_NOROUTE;
    int st = peeka_remote_exec_check(t, err, errlen);
    char path[400];
    /* --follow-forks attaches to more than one process from one run directory */
    char other[40];
    snprintf(other, sizeof other, "remote-exec-%d.py", (int)t->pid);
    if (st == PA_OK && rundir_write(rd, "remote-exec.py", code, path, sizeof path) < 0 &&
        (errno != EEXIST || rundir_write(rd, other, code, path, sizeof path) < 0)) {
        snprintf(err, errlen, "cannot write the bootstrap for the PEP 768 route in %s", rd->dir);
        return PA_FAILED;
    }
    if (st == PA_OK)
        st = peeka_remote_exec(t, path, rd->listen_fd, REMOTE_EXEC_GRACE_MS, err, errlen);
    /* The file stays until the run directory goes: a thread that raced the
     * withdrawal of its request must still find it. */
    if (st == PA_OK)
        ai->route = "remote-exec";
    else if (st == PA_NOROUTE && !forced) {
        size_t n = strnlen(err, sizeof ai->fallback - 1);   /* the reason, cut to fit */
        memcpy(ai->fallback, err, n);
        ai->fallback[n] = 0;
    }
    return st;
}

int attach_timeout_ms(const rec_options *o, const peeka_target *t)
{
    double s = o->attach_timeout_s;
    if (o->outside_wait_s > 0 && remote_dump_reads(t) && o->outside_wait_s < s)
        s = o->outside_wait_s;
    return (int)(s * 1000);
}

static int inject(const rec_options *o, const peeka_target *t, rundir *rd, const char *code,
                  attach_info *ai, char *err, size_t errlen)
{
    int timeout_ms = attach_timeout_ms(o, t);
    if (!strcmp(o->via, "gdb")) {
        char path[400];
        int st = rundir_write(rd, "bootstrap.py", code, path, sizeof path) < 0
                     ? (snprintf(err, errlen, "cannot write the bootstrap for gdb"), PA_FAILED)
                     : peeka_inject_gdb(t->pid, path, timeout_ms, err, errlen);
        unlink(path);
        ai->route = "gdb";
        return st;
    }
    int st = strcmp(o->via, "ptrace") ? try_remote_exec(o, t, rd, code, ai, err, errlen)
                                      : PA_NOROUTE;
    if (st == PA_NOROUTE && strcmp(o->via, "remote-exec")) {
        st = peeka_inject_python(t, code, timeout_ms, err, errlen);
        ai->route = pk_last_route();
    }
    return st;
}

/* The target last prepared, and its GIL then (3.14+), for
 * attach_explain_timeout. */
static peeka_target target;
static rx_gil gil_then;
static int gil_then_known;

/* The target's threads before peeka touched it: the ptrace route's helper
 * thread is not among them. */
static pid_t *tids_before;
static size_t ntids_before;

int attach_thread_is_ours(pid_t pid, pid_t tid)
{
    if (target.pid != pid || !ntids_before)
        return 0;
    for (size_t i = 0; i < ntids_before; i++)
        if (tids_before[i] == tid)
            return 0;
    return 1;
}

const peeka_target *attach_inspected(pid_t pid)
{
    return target.pid == pid && target.major ? &target : NULL;
}

/* The process's interpreter, and the run directory handed to its user. */
static int prepare(pid_t pid, rundir *rd, peeka_target *t, char *err, size_t errlen)
{
    int st = peeka_target_inspect(pid, t, err, errlen);
    if (st != PA_OK)
        return attach_status_to_exit(st);
    gil_then_known = peeka_gil_read(t, &gil_then) == 0;
    free(tids_before);
    if (pk_tasks_list(pid, &tids_before, &ntids_before) != 0)
        ntids_before = 0;   /* unknown: no thread is taken for peeka's */
    struct stat pst;
    char proc[32];
    snprintf(proc, sizeof proc, "/proc/%d", (int)pid);
    if (stat(proc, &pst) == 0 && rundir_give_to(rd, pst.st_uid, pst.st_gid, err, errlen) < 0)
        return EX_ATTACH;
    return EX_OK_REC;
}

int attach_run_code(pid_t pid, const rec_options *o, rundir *rd, const char *code,
                    attach_info *ai, char *err, size_t errlen)
{
    peeka_target *t = &target;
    int rc = prepare(pid, rd, t, err, errlen);
    if (rc != EX_OK_REC)
        return rc;
    int st = inject(o, t, rd, code, ai, err, errlen);
    return st == PA_OK ? EX_OK_REC : attach_status_to_exit(st);
}

int attach_target(pid_t pid, const rec_options *o, rundir *rd, const char *prefix,
                  attach_info *ai, char *err, size_t errlen)
{
    peeka_target *t = &target;
    int st = prepare(pid, rd, t, err, errlen);
    if (st != EX_OK_REC)
        return st;
    char agent[4096];
    if (agent_path_for(t->major, t->minor, agent, sizeof agent, err, errlen) < 0)
        return EX_NOAGENT;
    char *code = with_prefix(prefix, bootstrap_attach_code(agent, rd, o->buffer_bytes));
    if (!code) {
        snprintf(err, errlen, "out of memory");
        return EX_INTERNAL;
    }
    st = inject(o, t, rd, code, ai, err, errlen);
    free(code);
    return st == PA_OK ? EX_OK_REC : attach_status_to_exit(st);
}

/* The name the thread gave itself (/proc/PID/task/TID/comm), or "". */
static void thread_name(pid_t pid, uint64_t tid, char *name, size_t len)
{
    char path[64];
    name[0] = 0;
    snprintf(path, sizeof path, "/proc/%d/task/%llu/comm", (int)pid, (unsigned long long)tid);
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    if (!fgets(name, (int)len, f))
        name[0] = 0;
    fclose(f);
    name[strcspn(name, "\n")] = 0;
}

void attach_explain_timeout(pid_t pid, char *err, size_t errlen)
{
    rx_gil now;
    if (!gil_then_known || target.pid != pid || peeka_gil_read(&target, &now) != 0)
        return;
    if (!now.locked || !gil_then.locked || !now.holder || now.holder != gil_then.holder ||
        now.switches != gil_then.switches)
        return;
    char name[64], named[80] = "";
    thread_name(pid, now.holder, name, sizeof name);
    if (name[0])
        snprintf(named, sizeof named, " (%s)", name);
    size_t k = strnlen(err, errlen);
    if (k + 1 < errlen)
        snprintf(err + k, errlen - k, ": thread %llu%s has held the GIL the whole time (a long C "
                 "call that keeps it: the agent runs only once it is released)",
                 (unsigned long long)now.holder, named);
}
