/* The pre-installed agent (python/peeka_agent, docs/attach.md "The
 * installed route"): finding one in a process without ptrace, and asking
 * it, by a rendezvous file and a signal, to connect or to uninstall. */
#ifndef PEEKA_INSTALLED_AGENT_H
#define PEEKA_INSTALLED_AGENT_H

#include <stddef.h>
#include <sys/types.h>
#include "options.h"
#include "recording.h"
#include "rundir.h"

typedef struct {
    char dir[300];      /* the target user's private directory holding the registration */
    int sig;            /* the signal its handler waits for */
    uid_t uid;          /* the target's effective uid and gid */
    gid_t gid;
    char python[16];
} installed_agent;

/* installed_dir.c: 1 when pid registered a pre-installed agent that this
 * peeka-rec may use (same user, or root); 0 when not, with the reason in
 * err (for --attach-installed); never touches the process. */
int installed_find(pid_t pid, installed_agent *ia, char *err, size_t errlen);

/* attach_installed.c: writes the rendezvous for `action` ("record": the
 * socket and token of rd; "uninstall": where to write the report) and
 * signals the process.  EX_OK_REC, or an EX_* code with err. */
int installed_request(pid_t pid, const installed_agent *ia, rundir *rd, const char *action,
                      char *err, size_t errlen);
/* Takes an unanswered rendezvous back (a later signal must not find it);
 * adds to err why the handler may not have run when rc is EX_TIMEOUT. */
void installed_withdraw(int rc, char *err, size_t errlen);

/* Attach mode's way in: the installed route when the process has a
 * pre-installed agent (and --via is auto) or --attach-installed forces it
 * (EX_NOT_INSTALLED without one), else attach_target(). */
int attach_any(pid_t pid, const rec_options *o, rundir *rd, attach_info *ai, char *err, size_t errlen);

#endif
