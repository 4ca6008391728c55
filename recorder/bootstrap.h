/* Where the agent builds are, and the Python code that loads one into a
 * target: injected (attach) or as a sitecustomize (launch). */
#ifndef PEEKA_BOOTSTRAP_H
#define PEEKA_BOOTSTRAP_H

#include <stddef.h>
#include "rundir.h"

/* PREFIX/lib/peeka, found from our own executable (bin/../lib/peeka). */
int  peeka_libdir(char *out, size_t outlen);
/* The agent for CPython major.minor; -1 with a message naming the
 * interpreter and how to build its agent when there is none. */
int  agent_path_for(int major, int minor, char *out, size_t outlen, char *err, size_t errlen);
char *bootstrap_attach_code(const char *agent_path, const rundir *r, size_t buffer_bytes);
/* Launch mode without the sitecustomize (python -I, -S, -E): run as a
 * pending call before the program's first bytecode, it loads the agent and
 * waits for the recorder's word, as the sitecustomize does; a failure is
 * written to boot-error.  A Ctrl-C meanwhile reaches the program. */
char *bootstrap_first_frame_code(const char *agent_path, const rundir *r, size_t buffer_bytes);
/* Undoes what launch mode put in the environment for the sitecustomize,
 * when the program still has it (it never read the sitecustomize). */
/* peeka-rec --uninstall's code: purge, uninstall, report to DIR/uninstall-report. */
char *bootstrap_uninstall_code(const rundir *r);
char *bootstrap_env_restore_code(const rundir *r);
char *bootstrap_sitecustomize(const char *agent_dir, const rundir *r, size_t buffer_bytes);

#endif
