/* peeka-rec as a client of detached sessions: --attach=KEY [--stop],
 * --is-detached=KEY, --list-sessions [--json]. */
#ifndef PEEKA_SESSION_CTL_H
#define PEEKA_SESSION_CTL_H

#include "options.h"

/* Returns the exit code: for --attach the session's own; for
 * --is-detached 0 running, 1 error, 2 no such session (Perfetto's). */
int session_ctl_run(const rec_options *o);

#endif
