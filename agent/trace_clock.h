/* The clock of trace's nodes on 3.12+, where every Python call costs two
 * readings: the TSC when the kernel itself keeps time with it (a stable,
 * synchronised counter; rdtsc is about 2.5x cheaper than clock_gettime
 * here), else CLOCK_MONOTONIC.  Ticks become nanoseconds when a record is
 * written, at a rate measured against CLOCK_MONOTONIC over the time since
 * the first trace probe was created.  GIL held for all but tclock_now. */
#ifndef PEEKA_TRACE_CLOCK_H
#define PEEKA_TRACE_CLOCK_H

#include "agent.h"

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

extern int tclock_tsc;          /* ticks are TSC cycles, else nanoseconds */

static inline int64_t tclock_now(void)
{
#if defined(__x86_64__)
    if (tclock_tsc)
        return (int64_t)__rdtsc();
#endif
    return now_mono_ns();
}

/* Picks the clock and takes the reference reading, the first time. */
void tclock_init(void);
/* After a tree: measures the rate again over a longer span. */
void tclock_calibrate(void);
/* Monotone and superadditive (the sum of converted parts never exceeds the
 * converted whole), so a node's children never outgrow it. */
int64_t tclock_ns(int64_t ticks);

#endif
