/* Launch mode, from the started program to a connected agent, by whichever
 * way in works: the sitecustomize; following the program from its exec to
 * its first frame (launch_trace.h) when its flags rule the sitecustomize
 * out; or, when the sitecustomize has not run by --timeout (flags hidden
 * in a wrapper), attaching to the program as attach mode does, its calls
 * until then missed (peeka-rec says so). */
#ifndef PEEKA_LAUNCH_AGENT_H
#define PEEKA_LAUNCH_AGENT_H

#include "agent_conn.h"
#include "launch.h"
#include "options.h"
#include "recording.h"

/* launch_agent_in(): no agent, the program runs without it */
#define LAUNCH_UNRECORDED (-1)

/* EX_OK_REC: connected, rec->bootstrap says how.  LAUNCH_UNRECORDED: the
 * agent could not be loaded; the program runs (or ran, rec->child_done)
 * without it and err says why in one line.  Else the EX_* code peeka-rec
 * ends with.  why_untraced: launch_program()'s word on ptrace. */
int launch_agent_in(const rec_options *o, rundir *rd, ltrace *L, launch_route route,
                    const char *flag, const char *why_untraced, agent_conn *conn,
                    recording *rec, char *err, size_t errlen);

#endif
