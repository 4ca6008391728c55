#include "attach_target.h"
#include "attach.h"
#include "bootstrap.h"
#include "exitcodes.h"
#include "inject_gdb.h"

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
    case PA_PERM: return EX_PERM;
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

int attach_target(pid_t pid, const rec_options *o, rundir *rd, const char *prefix, char *err,
                  size_t errlen)
{
    static peeka_target t;
    int st = peeka_target_inspect(pid, &t, err, errlen);
    if (st != PA_OK)
        return attach_status_to_exit(st);
    char agent[4096];
    if (agent_path_for(t.major, t.minor, agent, sizeof agent, err, errlen) < 0)
        return EX_NOAGENT;
    struct stat pst;
    char proc[32];
    snprintf(proc, sizeof proc, "/proc/%d", (int)pid);
    if (stat(proc, &pst) == 0 && rundir_give_to(rd, pst.st_uid, pst.st_gid, err, errlen) < 0)
        return EX_ATTACH;
    char *code = with_prefix(prefix, bootstrap_attach_code(agent, rd, o->buffer_bytes));
    if (!code) {
        snprintf(err, errlen, "out of memory");
        return EX_INTERNAL;
    }
    int timeout_ms = (int)(o->attach_timeout_s * 1000);
    if (!strcmp(o->via, "gdb")) {
        char path[400];
        st = rundir_write(rd, "bootstrap.py", code, path, sizeof path) < 0
                 ? (snprintf(err, errlen, "cannot write the bootstrap for gdb"), PA_FAILED)
                 : peeka_inject_gdb(pid, path, timeout_ms, err, errlen);
        unlink(path);
    } else {
        st = peeka_inject_python(&t, code, timeout_ms, err, errlen);
    }
    free(code);
    return st == PA_OK ? EX_OK_REC : attach_status_to_exit(st);
}

