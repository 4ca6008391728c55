#include "launch_agent.h"
#include "attach_target.h"
#include "bootstrap.h"
#include "exitcodes.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int timeout_ms(const rec_options *o)
{
    return (int)(o->attach_timeout_s * 1000);
}

/* Why the bootstrap could not start the agent, if it said (in err): 0 it
 * did not, 1 it did, 2 it refused the interpreter (free-threaded: exit 11,
 * as in attach mode; the bootstrap has stopped the program before its
 * first line). */
static int boot_said(rundir *rd, char *err, size_t errlen)
{
    static const char unsupported[] = "unsupported: ";
    char path[400], msg[600];
    snprintf(path, sizeof path, "%s/boot-error", rd->dir);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(msg, 1, sizeof msg - 1, f);
    msg[n] = 0;
    fclose(f);
    if (!strncmp(msg, unsupported, sizeof unsupported - 1)) {
        snprintf(err, errlen, "%s", msg + sizeof unsupported - 1);
        return 2;
    }
    snprintf(err, errlen, "the agent could not start in the program: %s", msg);
    return 1;
}

/* The one line peeka-rec prints when the program goes unrecorded; `why`
 * may be err itself, or NULL when the program just exited too soon. */
static int unrecorded(int exited, const char *why, char *err, size_t errlen)
{
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", why ? why : "");
    if (!why)
        snprintf(err, errlen, "the program exited before the agent was loaded: nothing recorded");
    else
        snprintf(err, errlen, "%s; %s", copy, exited ? "nothing recorded" : "the program runs unrecorded");
    return LAUNCH_UNRECORDED;
}

static int queue_bootstrap(const rec_options *o, rundir *rd, ltrace *L, char *err, size_t errlen)
{
    char agent[4096];
    if (agent_path_for(L->t.major, L->t.minor, agent, sizeof agent, err, errlen) < 0)
        return PA_FAILED;
    char *code = bootstrap_first_frame_code(agent, rd, o->buffer_bytes);
    if (!code) {
        snprintf(err, errlen, "out of memory");
        return PA_FAILED;
    }
    int st = ltrace_queue(L, code, err, errlen);
    free(code);
    return st;
}

/* python -I, -S, -E: follow the program to its first frame and queue the
 * bootstrap there (launch_trace.h). */
static int traced_in(const rec_options *o, rundir *rd, ltrace *L, const char *flag,
                     const char *why_untraced, recording *rec, char *err, size_t errlen)
{
    char msg[600] = "";
    if (L->pid <= 0) {
        snprintf(msg, sizeof msg, "cannot load the agent: python %s skips the sitecustomize, and %s",
                 flag, why_untraced);
        return unrecorded(0, msg, err, errlen);
    }
    int st = ltrace_to_first_frame(L, timeout_ms(o), msg, sizeof msg);
    if (st == PA_OK)
        st = queue_bootstrap(o, rd, L, msg, sizeof msg);
    int refused = st == PA_UNSUPPORTED && L->t.free_threaded;
    if (refused)
        kill(L->pid, SIGKILL);   /* as the sitecustomize does: not one line of it runs */
    ltrace_release(L);
    if (L->exited) {
        rec->child_done = 1;   /* reaped while traced */
        rec->child_status = L->status;
    }
    if (L->exited && L->status == -1) {
        snprintf(err, errlen, "lost the program's exit status (it exited while being traced)");
        return EX_INTERNAL;
    }
    if (refused) {
        snprintf(err, errlen, "%s", msg);
        return EX_NOTPYTHON;
    }
    if (st == PA_OK)
        return EX_OK_REC;
    if (st == PA_EXITED)
        return unrecorded(1, NULL, err, errlen);
    char why[700];
    snprintf(why, sizeof why, "cannot load the agent: %s", msg);
    return unrecorded(0, why, err, errlen);
}

/* The sitecustomize did not run: maybe -I, -S or -E hidden in a wrapper.
 * Attach to the program as attach mode would; its calls so far are lost. */
static int late_attach(const rec_options *o, rundir *rd, agent_conn *conn, recording *rec,
                       char *err, size_t errlen)
{
    char msg[600] = "";
    char *fix = bootstrap_env_restore_code(rd);
    int rc = fix ? attach_target(rec->child, o, rd, fix, &rec->attach, msg, sizeof msg) : EX_INTERNAL;
    free(fix);
    conn_close(conn);
    if (rc == EX_OK_REC)
        rc = conn_accept(conn, rd, rec->child, rec->child, timeout_ms(o), 5000, msg, sizeof msg);
    if (rc == EX_EXITED)
        return unrecorded(1, NULL, err, errlen);
    if (rc != EX_OK_REC) {
        char why[800];
        snprintf(why, sizeof why, "the program did not load the agent within %g s, and attaching "
                 "to it failed: %s", o->attach_timeout_s, fix ? msg : "out of memory");
        return unrecorded(0, why, err, errlen);
    }
    rec->attach.late = 1;   /* recording.c says so once the probes are in */
    return EX_OK_REC;
}

int launch_agent_in(const rec_options *o, rundir *rd, ltrace *L, launch_route route,
                    const char *flag, const char *why_untraced, agent_conn *conn,
                    recording *rec, char *err, size_t errlen)
{
    if (route == LAUNCH_TRACE) {
        int rc = traced_in(o, rd, L, flag, why_untraced, rec, err, errlen);
        if (rc != EX_OK_REC)
            return rc;
    }
    rec->attach.route = route == LAUNCH_TRACE ? "launch-first-frame" : "launch";
    int rc = conn_accept(conn, rd, rec->child, rec->child, timeout_ms(o), 5000, err, errlen);
    if (route == LAUNCH_SITE)
        launch_cleanup(rd);   /* imported already, or never will be */
    if (rc == EX_OK_REC)
        return rc;
    int said = boot_said(rd, err, errlen);
    if (said == 2)
        return EX_NOTPYTHON;
    if (rc == EX_TIMEOUT && route == LAUNCH_SITE && !said)
        return late_attach(o, rd, conn, rec, err, errlen);
    if (rc == EX_EXITED)
        return unrecorded(1, said ? err : NULL, err, errlen);
    return unrecorded(0, err, err, errlen);
}
