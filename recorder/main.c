/* peeka-rec: attach to (or launch) a Python process, record, detach. */
#include "agent_conn.h"
#include "attach.h"
#include "bootstrap.h"
#include "exitcodes.h"
#include "inject.h"
#include "inject_gdb.h"
#include "launch.h"
#include "options.h"
#include "recording.h"
#include "remote_exec.h"
#include "rundir.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void on_signal(int sig)
{
    g_stop_signal = sig;
}

static int install_signals(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;   /* no SA_RESTART: poll() must return */
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0 ||
        sigaction(SIGHUP, &sa, NULL) < 0)
        return -1;
    return signal(SIGPIPE, SIG_IGN) == SIG_ERR ? -1 : 0;
}

/* The widest pid Linux gives (PID_MAX_LIMIT): a launched program's name
 * is checked with it before the program exists. */
#define WIDEST_PID 4194304
/* How long the PEP 768 route waits for a thread to reach a safe point
 * before --via auto withdraws the request and uses ptrace (an idle process
 * blocked in epoll_wait would never get there). */
#define REMOTE_EXEC_GRACE_MS 250

/* strftime fields and {pid}; default peeka-{pid}-%Y%m%d-%H%M%S.tar.zst */
static int expand_output(const char *tmpl, pid_t pid, char *out, size_t outlen, char *err, size_t errlen)
{
    char step[PATH_MAX];
    size_t o = 0;
    if (!tmpl) tmpl = "peeka-{pid}-%Y%m%d-%H%M%S.tar.zst";
    for (const char *s = tmpl; *s; s++) {
        if (o + 24 >= sizeof step) {
            snprintf(err, errlen, "--output is too long: over %zu bytes (PATH_MAX is %d)",
                     sizeof step - 24, PATH_MAX);
            return -1;
        }
        if (!strncmp(s, "{pid}", 5)) {
            o += (size_t)snprintf(step + o, sizeof step - o, "%d", (int)pid);
            s += 4;
        } else {
            step[o++] = *s;
        }
    }
    step[o] = 0;
    if (!o) {
        snprintf(err, errlen, "--output is empty");
        return -1;
    }
    time_t now = time(NULL);
    struct tm tm;
    if (!localtime_r(&now, &tm)) {
        snprintf(err, errlen, "cannot read the local time for --output");
        return -1;
    }
    if (strftime(out, outlen, step, &tm) == 0) {
        snprintf(err, errlen, "--output '%.200s' expands to an empty name or one too long "
                 "(PATH_MAX is %d)", tmpl, PATH_MAX);
        return -1;
    }
    return 0;
}

/* Everything about the output path that can fail, checked before the
 * target is touched: the directory, write access, and the lengths of
 * FILE.partial against NAME_MAX and PATH_MAX (the archive's member names
 * have no limit of their own: long ones get pax headers). */
static int check_output(const char *path, char *err, size_t errlen)
{
    size_t n = strlen(path);
    if (n == 0) {
        snprintf(err, errlen, "--output is empty");
        return -1;
    }
    if (n + sizeof ".partial" > PATH_MAX) {
        snprintf(err, errlen, "output path too long: %zu bytes with .partial, PATH_MAX is %d",
                 n + sizeof ".partial" - 1, PATH_MAX);
        return -1;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (!*base) {
        snprintf(err, errlen, "output %.600s is a directory, not a file name", path);
        return -1;
    }
    char copy[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", path);
    const char *dir = dirname(copy);
    struct stat st;
    if (stat(dir, &st) < 0) {
        if (errno == ENOENT)
            snprintf(err, errlen, "output directory %.600s does not exist", dir);
        else
            snprintf(err, errlen, "output directory %.600s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "output directory %.600s does not exist (it is not a directory)", dir);
        return -1;
    }
    if (access(dir, W_OK | X_OK) < 0) {
        snprintf(err, errlen, "output directory %.600s is not writable: %s", dir, strerror(errno));
        return -1;
    }
    errno = 0;
    long name_max = pathconf(dir, _PC_NAME_MAX);
    if (name_max <= 0)
        name_max = NAME_MAX;
    size_t blen = strlen(base);
    if (blen + sizeof ".partial" - 1 > (size_t)name_max) {
        snprintf(err, errlen, "output file name too long: %zu characters, %zu with .partial, "
                 "and this file system allows %ld", blen, blen + sizeof ".partial" - 1, name_max);
        return -1;
    }
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "output %.600s is a directory, not a file name", path);
        return -1;
    }
    return 0;
}

/* FILE.partial is 0600 while it is written; --mode is the finished
 * archive's. */
static peeka_aw *open_archive(const rec_options *o, const char *path, char *err, size_t errlen)
{
    peeka_aw *aw = peeka_aw_open(path, NULL, o->zstd_level, err, errlen);
    if (aw)
        peeka_aw_set_mode(aw, o->mode);
    return aw;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int attach_status_to_exit(int st)
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
    if (st == PA_OK && rundir_write(rd, "remote-exec.py", code, path, sizeof path) < 0) {
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

static int attach_target(const rec_options *o, rundir *rd, attach_info *ai, char *err,
                         size_t errlen)
{
    static peeka_target t;
    int st = peeka_target_inspect(o->pid, &t, err, errlen);
    if (st != PA_OK)
        return attach_status_to_exit(st);
    char agent[4096];
    if (agent_path_for(t.major, t.minor, agent, sizeof agent, err, errlen) < 0)
        return EX_NOAGENT;
    struct stat pst;
    char proc[32];
    snprintf(proc, sizeof proc, "/proc/%d", (int)o->pid);
    if (stat(proc, &pst) == 0 && rundir_give_to(rd, pst.st_uid, pst.st_gid, err, errlen) < 0)
        return EX_ATTACH;
    char *code = bootstrap_attach_code(agent, rd, o->buffer_bytes);
    if (!code) {
        snprintf(err, errlen, "out of memory");
        return EX_INTERNAL;
    }
    int timeout_ms = (int)(o->attach_timeout_s * 1000);
    if (!strcmp(o->via, "gdb")) {
        char path[400];
        st = rundir_write(rd, "bootstrap.py", code, path, sizeof path) < 0
                 ? (snprintf(err, errlen, "cannot write the bootstrap for gdb"), PA_FAILED)
                 : peeka_inject_gdb(o->pid, path, timeout_ms, err, errlen);
        unlink(path);
        ai->route = "gdb";
    } else {
        st = strcmp(o->via, "ptrace") ? try_remote_exec(o, &t, rd, code, ai, err, errlen)
                                      : PA_NOROUTE;
        if (st == PA_NOROUTE && strcmp(o->via, "remote-exec")) {
            st = peeka_inject_python(&t, code, timeout_ms, err, errlen);
            ai->route = pk_last_route();
        }
    }
    free(code);
    return st == PA_OK ? EX_OK_REC : attach_status_to_exit(st);
}

/* Launch mode: why the bootstrap could not start the agent, if it said.
 * An interpreter peeka does not support (free-threaded) is exit 11, as in
 * attach mode; the bootstrap has stopped the program before its first line. */
static int boot_error(rundir *rd, int rc, char *err, size_t errlen)
{
    static const char unsupported[] = "unsupported: ";
    char path[400], msg[600];
    snprintf(path, sizeof path, "%s/boot-error", rd->dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return rc;
    size_t n = fread(msg, 1, sizeof msg - 1, f);
    msg[n] = 0;
    fclose(f);
    if (!strncmp(msg, unsupported, sizeof unsupported - 1)) {
        snprintf(err, errlen, "%s", msg + sizeof unsupported - 1);
        return EX_NOTPYTHON;
    }
    snprintf(err, errlen, "the agent could not start in the program: %s", msg);
    return rc;
}

static int finish_child(pid_t child, recording *r, int rc)
{
    if (child <= 0)
        return rc;
    if (!r->child_done) {
        while (waitpid(child, &r->child_status, 0) < 0 && errno == EINTR)
            ;
        r->child_done = 1;
    }
    /* In launch mode the program's own status is what CI wants to see,
     * unless the recording itself failed. */
    if (rc == EX_OK_REC || rc == EX_TARGET_EXITED)
        return launch_exit_code(r->child_status);
    return rc;
}

int main(int argc, char **argv)
{
    rec_options o;
    char err[1024] = "";
    int prc = options_parse(argc, argv, &o, err, sizeof err);
    if (prc != 0) {
        if (prc < 0)
            fprintf(stderr, "peeka-rec: %s\n", err);
        options_free(&o);
        return prc > 0 ? EX_OK_REC : EX_USAGE_REC;
    }
    if (install_signals() < 0) {
        fprintf(stderr, "peeka-rec: cannot install signal handlers: %s\n", strerror(errno));
        return EX_INTERNAL;
    }
    int to_stdout = o.output && !strcmp(o.output, "-");
    /* launch mode: the pid in the name is the program's, known once it
     * runs; checked here at its widest */
    int pid_later = !o.pid && (!o.output || strstr(o.output, "{pid}"));
    char outpath[PATH_MAX] = "";
    if (!to_stdout && (expand_output(o.output, pid_later ? WIDEST_PID : o.pid, outpath, sizeof outpath,
                                     err, sizeof err) < 0 ||
                       check_output(outpath, err, sizeof err) < 0)) {
        fprintf(stderr, "peeka-rec: %s\n", err);
        options_free(&o);
        return EX_WRITE;
    }
    rundir rd;
    agent_conn conn = {.fd = -1};
    recording rec = {.opt = &o, .conn = &conn, .mode = o.pid ? "attach" : "launch"};
    int rc = EX_OK_REC;
    pid_t child = 0, target = o.pid;
    if (rundir_create(&rd, err, sizeof err) < 0) {
        rc = EX_INTERNAL;
        goto out;
    }
    /* attach mode: the archive exists before the target is touched */
    if (o.pid && !to_stdout && !(rec.aw = open_archive(&o, outpath, err, sizeof err))) {
        rc = EX_WRITE;
        goto out;
    }
    int64_t t0 = mono_ns();
    if (o.pid) {
        rc = attach_target(&o, &rd, &rec.attach, err, sizeof err);
    } else if ((child = target = launch_program(o.cmd, &rd, o.buffer_bytes, err, sizeof err)) < 0) {
        child = 0;
        rc = EX_USAGE_REC;
    }
    /* launch mode: the program waits in its bootstrap for our word */
    if (rc == EX_OK_REC && child && !to_stdout &&
        ((pid_later && expand_output(o.output, child, outpath, sizeof outpath, err, sizeof err) < 0) ||
         !(rec.aw = open_archive(&o, outpath, err, sizeof err)))) {
        rc = EX_WRITE;
        kill(child, SIGTERM);
    }
    if (rc == EX_OK_REC) {
        rec.child = child;
        rc = conn_accept(&conn, &rd, target, child, (int)(o.attach_timeout_s * 1000), 5000, err, sizeof err);
        rec.attach.ms = (double)(mono_ns() - t0) / 1e6;
        if (child)
            rec.attach.route = "launch";
        if (rc != EX_OK_REC && child)
            rc = boot_error(&rd, rc, err, sizeof err);
        else if (child)
            launch_cleanup(&rd);   /* imported already; leaves only the socket */
        if (rc == EX_OK_REC)
            rc = recording_run(&rec, err, sizeof err);
        else
            rec.discard = 1;   /* nothing recorded */
    } else {
        rec.discard = 1;
    }
    if (rec.aw && (rc == EX_PROBE || rec.discard)) {   /* nothing was recorded */
        peeka_aw_discard(rec.aw);
    } else if (rec.aw) {   /* an error after the archive was opened: keep what it holds */
        fprintf(stderr, "peeka-rec: recording kept in %s\n", peeka_aw_partial_path(rec.aw));
        peeka_aw_abort(rec.aw);
    }
    /* Launch mode: the program is still parked in the bootstrap, before its
     * first line; it must not run unobserved as if all were well. */
    if (child > 0 && rc == EX_PROBE && !rec.child_done)
        kill(child, SIGTERM);
out:
    if (rc != EX_OK_REC && rc != EX_TARGET_EXITED && err[0])
        fprintf(stderr, "peeka-rec: %s\n", err);
    else if (rc == EX_OK_REC && !o.quiet && !to_stdout && isatty(2))
        fprintf(stderr, "peeka-rec: %lld observations in %s\n", rec.records, outpath);
    conn_close(&conn);
    rundir_remove(&rd);
    rc = finish_child(child, &rec, rc);
    free(rec.agent_stats);
    options_free(&o);
    return rc;
}
