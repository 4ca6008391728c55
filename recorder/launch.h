/* Launch mode: run the program with the agent loaded by a sitecustomize
 * placed first on PYTHONPATH (no ptrace involved). */
#ifndef PEEKA_LAUNCH_H
#define PEEKA_LAUNCH_H

#include <sys/types.h>
#include "rundir.h"

/* Returns the child's pid, or -1 with err. */
pid_t launch_program(char **argv, rundir *r, size_t buffer_bytes, char *err, size_t errlen);
/* Removes the bootstrap once the agent has connected: if peeka-rec is then
 * killed, the agent can remove the directory with its socket. */
void launch_cleanup(rundir *r);
/* The child's status as a shell reports it: code, or 128+signal. */
int launch_exit_code(int status);

#endif
