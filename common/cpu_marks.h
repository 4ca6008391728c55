/* top's "did this thread use CPU since the last sample": each thread's
 * CPU time at the last look, for the agent (agent/top.c, its own threads)
 * and peeka-rec (recorder/remote_top.c, the target's from outside). */
#ifndef PEEKA_CPU_MARKS_H
#define PEEKA_CPU_MARKS_H

#include <stddef.h>
#include <stdint.h>

#define PK_CPU_MARKS 4096   /* threads followed; more are never sampled as busy */

typedef struct pk_cpu_marks {
    size_t n;
    struct {
        uint64_t id;
        int64_t cpu;
    } t[PK_CPU_MARKS];
} pk_cpu_marks;

/* cpu (thread id's CPU time now, ns; < 0 unknown) minus its last mark, which
 * becomes cpu; -1 the first time or when unknown. */
int64_t pk_cpu_since(pk_cpu_marks *m, uint64_t id, int64_t cpu);

#endif
