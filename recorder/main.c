/* peeka-rec: attach to (or launch) a Python process, record, detach. */
#include "agent_conn.h"
#include "buffer_policy.h"
#include "attach_target.h"
#include "exitcodes.h"
#include "follow_forks.h"
#include "installed_agent.h"
#include "launch.h"
#include "launch_agent.h"
#include "launch_flags.h"
#include "options.h"
#include "probe_values.h"
#include "recording.h"
#include "remote_dump.h"
#include "remote_top.h"
#include "rundir.h"
#include "session_ctl.h"
#include "session_holder.h"
#include "signals.h"
#include "uninstall.h"

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

/* The widest pid Linux gives (PID_MAX_LIMIT): a launched program's name
 * is checked with it before the program exists. */
#define WIDEST_PID 4194304

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
    if (aw) {
        peeka_aw_set_mode(aw, o->mode);
        peeka_aw_set_flush_ns(aw, (int64_t)(o->flush_period_s * 1e9));
    }
    return aw;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Launch mode: the program's own status is what CI wants to see, unless
 * the recording itself failed. */
static int finish_child(pid_t child, recording *r, int rc)
{
    if (child <= 0)
        return rc;
    if (!r->child_done) {
        if (launch_reap(child, &r->child_status, 1) < 0) {
            fprintf(stderr, "peeka-rec: waiting for the program: %s\n", strerror(errno));
            return EX_INTERNAL;
        }
        r->child_done = 1;
    }
    if (rc == EX_OK_REC || rc == EX_TARGET_EXITED)
        return launch_exit_code(r->child_status);
    return rc;
}

/* A detached session's code for its clients, known once the archive is
 * complete: in launch mode the program's status if it has ended (a
 * stopped session leaves it running). */
static int session_code(recording *r, int rc)
{
    if (r->child > 0 && !r->child_done && launch_reap(r->child, &r->child_status, 0) == 1)
        r->child_done = 1;
    if (r->child > 0 && r->child_done && (rc == EX_OK_REC || rc == EX_TARGET_EXITED))
        return launch_exit_code(r->child_status);
    return r->child > 0 && rc == EX_TARGET_EXITED ? EX_OK_REC : rc;
}

/* Launch mode up to a connected agent: start the program, open the
 * archive named after its pid (it waits meanwhile: in its bootstrap, or
 * traced at its exec), get the agent in (launch_agent.h). */
static int start_launch(const rec_options *o, rundir *rd, ltrace *L, agent_conn *conn,
                        recording *rec, char *outpath, size_t outlen, int pid_later, char *err,
                        size_t errlen)
{
    char flag[8] = "", why[300] = "";
    int64_t t0 = mono_ns();
    launch_route route = launch_skips_site(o->cmd, flag, sizeof flag) ? LAUNCH_TRACE : LAUNCH_SITE;
    pid_t child = launch_program(o->cmd, rd, o->buffer_bytes, route, L, why, sizeof why, err, errlen);
    if (child < 0)
        return EX_USAGE_REC;
    rec->child = child;
    signals_forward_to(child);
    if (outpath[0] && ((pid_later && expand_output(o->output, child, outpath, outlen, err, errlen) < 0) ||
                       !(rec->aw = open_archive(o, outpath, err, errlen)))) {
        kill(child, SIGTERM);   /* pending before its first instruction: it never runs */
        ltrace_release(L);
        return EX_WRITE;
    }
    int rc = launch_agent_in(o, rd, L, route, flag, why, conn, rec, err, errlen);
    rec->attach.ms = (double)(mono_ns() - t0) / 1e6;
    return rc;
}

/* Attach mode up to a connected agent; the archive exists before the
 * target is touched. */
static int start_attach(const rec_options *o, rundir *rd, agent_conn *conn, recording *rec,
                        const char *outpath, char *err, size_t errlen)
{
    if (outpath[0] && !(rec->aw = open_archive(o, outpath, err, errlen)))
        return EX_WRITE;
    int64_t t0 = mono_ns();
    int rc = attach_any(o->pid, o, rd, &rec->attach, err, errlen);
    /* One deadline for the whole attach: the code may have been handed to a
     * thread that is still waiting for the GIL when the injection returns. */
    int budget_ms = attach_timeout_ms(o, attach_inspected(o->pid));
    int64_t left_ms = budget_ms - (mono_ns() - t0) / 1000000;
    if (rc == EX_OK_REC &&
        (rc = conn_accept(conn, rd, o->pid, 0, left_ms > 1 ? (int)left_ms : 1, 5000, err, errlen)) == EX_TIMEOUT)
        snprintf(err, errlen, "the agent did not connect within %d ms", budget_ms);
    if (rc == EX_TIMEOUT)
        attach_explain_timeout(o->pid, err, errlen);
    installed_withdraw(rc, err, errlen);
    rec->attach.ms = (double)(mono_ns() - t0) / 1e6;
    return rc;
}

/* top --outside: no agent; the archive exists before the target is read.
 * *ran: the recording began, so the archive is the sampler's to keep. */
static int start_outside(const rec_options *o, recording *rec, const char *outpath, int *ran,
                         char *err, size_t errlen)
{
    static peeka_target t;   /* large: paths */
    if (outpath[0] && !(rec->aw = open_archive(o, outpath, err, errlen)))
        return EX_WRITE;
    int64_t t0 = mono_ns();
    int st = peeka_target_inspect(o->pid, &t, err, errlen);
    rec->attach.ms = (double)(mono_ns() - t0) / 1e6;
    if (st != PA_OK)
        return attach_status_to_exit(st);
    *ran = 1;
    int rc = remote_top_run(rec, &t, err, errlen);
    if (rc == EX_NOTPYTHON)
        *ran = 0;   /* nothing was written */
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
        /* --is-detached keeps Perfetto's codes: 1 for a wrong command line */
        return prc > 0 ? EX_OK_REC : o.session_cmd == SESSION_IS_DETACHED ? 1 : EX_USAGE_REC;
    }
    if (signals_install() < 0) {
        fprintf(stderr, "peeka-rec: cannot install signal handlers: %s\n", strerror(errno));
        return EX_INTERNAL;
    }
    if (o.session_cmd)
        return session_ctl_run(&o);
    /* py-spy dump's promise: a GIL kept in C delays the answer by --wait, not --timeout */
    if (remote_dump_applies(&o) && !o.timeout_given)
        o.outside_wait_s = pt_num(&o.probes[0].v, "wait_s", 1);
    if (o.uninstall) {
        int urc = uninstall_run(&o);
        options_free(&o);
        return urc;
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
    session_holder *holder = NULL;
    int hrc;
    if (o.detach_key && holder_start(&o, &holder, &hrc, err, sizeof err) != 0) {
        if (err[0])   /* 1: the user's command, done; -1: could not start */
            fprintf(stderr, "peeka-rec: %s\n", err);
        options_free(&o);
        return hrc;
    }
    rundir rd;
    agent_conn conn = {.fd = -1};
    recording rec = {.opt = &o, .conn = &conn, .mode = o.pid ? "attach" : "launch", .holder = holder};
    ltrace lt;
    ltrace_init(&lt);
    int rc = EX_OK_REC, unrecorded = 0;
    if (rundir_create(&rd, err, sizeof err) < 0 || policy_start(&rec, err, sizeof err) < 0) {
        rc = EX_INTERNAL;
        goto out;
    }
    conn_welcome_follow_forks(o.follow_forks);
    if (o.follow_forks && !(rec.forks = forks_new(&rd))) {
        snprintf(err, sizeof err, "out of memory");
        rc = EX_INTERNAL;
        goto out;
    }
    int outside = 0;
    if (remote_top_applies(&o))
        rc = start_outside(&o, &rec, outpath, &outside, err, sizeof err);
    else
        rc = o.pid ? start_attach(&o, &rd, &conn, &rec, outpath, err, sizeof err)
                   : start_launch(&o, &rd, &lt, &conn, &rec, outpath, sizeof outpath, pid_later,
                                  err, sizeof err);
    const peeka_target *inspected = attach_inspected(o.pid);
    if (rc == EX_TIMEOUT && remote_dump_applies(&o) && remote_dump_reads(inspected)) {
        /* no agent: the one snapshot, from outside */
        rc = remote_dump_run(&rec, inspected, err, sizeof err);
        outside = rc == EX_OK_REC;
    }
    if (rc == LAUNCH_UNRECORDED) {   /* said once; the program's status decides */
        fprintf(stderr, "peeka-rec: %s\n", err);
        err[0] = 0;
        rc = EX_TARGET_EXITED;
        unrecorded = 1;
    }
    if (rc == EX_OK_REC && !outside)
        rc = recording_run(&rec, err, sizeof err);
    else if (!outside)
        rec.discard = 1;   /* nothing recorded */
    if (rec.aw && (rc == EX_PROBE || rec.discard)) {   /* nothing was recorded */
        peeka_aw_discard(rec.aw);
    } else if (rec.aw) {   /* an error after the archive was opened: keep what it holds */
        fprintf(stderr, "peeka-rec: recording kept in %s\n", peeka_aw_partial_path(rec.aw));
        peeka_aw_abort(rec.aw);
    }
    /* Launch mode: the program is still parked in the bootstrap, before its
     * first line; it must not run unobserved as if all were well. */
    if (rec.child > 0 && rc == EX_PROBE && !rec.child_done)
        kill(rec.child, SIGTERM);
out:
    if (rc != EX_OK_REC && rc != EX_TARGET_EXITED && err[0])
        fprintf(stderr, "peeka-rec: %s\n", err);
    else if (rc == EX_OK_REC && !unrecorded && !o.quiet && !to_stdout && isatty(2))
        fprintf(stderr, "peeka-rec: %lld observations in %s\n", rec.records, outpath);
    conn_close(&conn);
    forks_free(rec.forks);
    rundir_remove(&rd);
    if (holder) {
        char done[PATH_MAX + 64];
        snprintf(done, sizeof done, "%lld observations in %s", rec.records, outpath);
        holder_finish(holder, session_code(&rec, rc), rc == EX_OK_REC ? done : err);
    }
    rc = finish_child(rec.child, &rec, rc);
    policy_free(&rec);
    free(rec.agent_stats);
    options_free(&o);
    return rc;
}
