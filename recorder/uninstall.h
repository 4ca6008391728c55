/* peeka-rec --uninstall PID: every trace of peeka out of a process. */
#ifndef PEEKA_UNINSTALL_H
#define PEEKA_UNINSTALL_H

#include "options.h"

/* Prints one line saying what was removed ("nothing to remove" too) and
 * returns EX_OK_REC, or an attach error's EX_* code. */
int uninstall_run(const rec_options *o);

#endif
