/* --detach=KEY: peeka-rec becomes the holder of a detached session.  The
 * command the user ran waits only until the probes are in, then exits 0;
 * the holder (setsid, no terminal, stdio on /dev/null) records on and
 * answers clients on KEY.sock (docs/protocol.md "Detached sessions"). */
#ifndef PEEKA_SESSION_HOLDER_H
#define PEEKA_SESSION_HOLDER_H

#include <stdint.h>
#include "options.h"
#include "recording.h"

typedef struct session_holder session_holder;

/* Claims KEY and its control socket, then forks.  In the command the user
 * ran, returns 1 with *code: 0 once the holder says the probes are in, else
 * the holder's own exit code.  In the holder returns 0 (h set).  Before
 * forking, -1 with *code and a message. */
int holder_start(const rec_options *o, session_holder **h, int *code,
                 char *err, size_t errlen);
/* The probes are in: lets the waiting command go, drops the terminal.
 * NULL: not a detached session. */
void holder_ready(session_holder *h);
/* Serves clients (at most every 20 ms); 1 when one asked to stop. */
int holder_tick(session_holder *h, const recording *r, int64_t now);
/* The archive is complete: every attached client gets the exit code and
 * message, the session's files go, h is freed.  NULL is fine. */
void holder_finish(session_holder *h, int code, const char *msg);

#endif
