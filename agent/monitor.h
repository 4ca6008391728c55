/* The monitor probe: per-function call statistics aggregated inside the
 * agent and emitted once per interval by the agent thread. */
#ifndef PEEKA_MONITOR_H
#define PEEKA_MONITOR_H

#include "agent.h"

/* Sends finished JSONL records to peeka-rec; 0 ok, -1 the socket failed. */
typedef int (*monitor_send_fn)(const char *jsonl, size_t len);

/* Install side (GIL held, agent thread). */
int  monitor_state_new(probe *p);
void monitor_state_free(probe *p);
/* Registers every function the probe is hooked on, so a function never
 * called still has its (zero) record every interval. */
void monitor_register_installed(probe *p);

/* Hot path, inside the observation guard (observe.h): one finished call of h. */
void monitor_account(hooked *h, int64_t cost_ns, int ok);

/* Agent thread, no GIL: emits the intervals that ended by `now_mono`; with
 * `final`, also the partial interval in progress (the session is ending and
 * the hooks are gone). */
int monitor_tick(int64_t now_mono, int final, monitor_send_fn send);

#endif
