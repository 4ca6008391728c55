/* Launch mode: start the program, so that the agent is in before its first
 * line: through a sitecustomize placed first on PYTHONPATH (no ptrace), or,
 * when the interpreter's flags rule that out, by following the program
 * from its exec (launch_trace.h). */
#ifndef PEEKA_LAUNCH_H
#define PEEKA_LAUNCH_H

#include <sys/types.h>
#include "launch_trace.h"
#include "rundir.h"

typedef enum {
    LAUNCH_SITE,    /* the sitecustomize on PYTHONPATH */
    LAUNCH_TRACE    /* environment untouched; traced from exec (L) */
} launch_route;

/* Returns the child's pid, or -1 with err when it cannot be started.
 * LAUNCH_TRACE: when ptrace is refused, L->pid is 0 and `why` says so;
 * the program runs anyway. */
pid_t launch_program(char **argv, rundir *r, size_t buffer_bytes, launch_route route, ltrace *L,
                     char *why, size_t whylen, char *err, size_t errlen);
/* Removes the bootstrap once the agent has connected: if peeka-rec is then
 * killed, the agent can remove the directory with its socket. */
void launch_cleanup(rundir *r);
/* Reaps the child if it has exited (waits for it when `block`): 1 and its
 * status, 0 while it runs, -1 on error.  Signals stop being passed on to
 * it before its pid is freed. */
int launch_reap(pid_t child, int *status, int block);
/* The child's status as a shell reports it: code, or 128+signal. */
int launch_exit_code(int status);

#endif
