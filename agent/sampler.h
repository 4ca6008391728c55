/* The agent's second native thread, for the probes that look at every
 * thread (thread, top): it takes the GIL for each snapshot or sample, so
 * the agent thread never waits for the GIL on their behalf and can tell,
 * when a snapshot cannot have it within --wait, which thread holds it.
 * Their records are handed to the agent thread, which alone sends and
 * counts them (as monitor's). */
#ifndef PEEKA_SAMPLER_H
#define PEEKA_SAMPLER_H

#include "agent.h"

typedef int (*sampler_send_fn)(const char *jsonl, size_t len);

/* Agent thread, GIL held, at install: a thread probe takes its first
 * snapshot here and now; then the probe is scheduled, and the sampler
 * thread started if it is not running.  0, or -1 with a message. */
int sampler_install(probe *p, char *err, size_t errlen);
/* Agent thread, no GIL: sends what the sampler wrote, and the record of a
 * snapshot that has waited for the GIL longer than its --wait; `final`
 * (after sampler_stop) sends the rest and forgets the session's probes.
 * -1 when the recorder does not read. */
int sampler_tick(int64_t now_mono, int final, sampler_send_fn send);
/* Agent thread, no GIL, at the end of a session: the sampler finishes
 * (it may first have to wait for the GIL) unless the interpreter is
 * finalizing, when it is let go instead.  What it wrote stays for the last
 * sampler_tick. */
void sampler_stop(int finalizing);
/* fork(): the child has no sampler thread; no malloc. */
void sampler_fork_child(void);

#endif
