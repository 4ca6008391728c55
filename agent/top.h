/* The top probe (Peeka's `top`): every interval, one record per thread
 * that used CPU since the last sample, with its Python stack; the reports
 * count own and total samples per function from them (scripts/top.lua,
 * collapsed.lua). */
#ifndef PEEKA_TOP_H
#define PEEKA_TOP_H

#include "agent.h"

/* GIL held, sampler.c's lock held.  top_prime notes every thread's CPU
 * time (at install: the first sample then has something to compare to);
 * top_sample writes sample number `cycle`, at most `max` records (its -c
 * counts records: a sample in which no thread ran has none, and peeka-rec
 * counts what it receives), and returns how many. */
int top_prime(probe *p, const unsigned long *skip, int nskip);
int top_sample(probe *p, jsonw *w, int64_t cycle, const unsigned long *skip, int nskip, int64_t max);
void top_state_free(probe *p);

#endif
