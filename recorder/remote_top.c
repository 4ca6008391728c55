#include "remote_top.h"
#include "cpu_marks.h"
#include "exitcodes.h"
#include "proc_maps.h"
#include "ptrace_thread.h"   /* pk_now_ns, the recorder's monotonic clock */
#include "remote_records.h"
#include "remote_stacks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct sampler {
    recording *r;
    const peeka_target *t;
    const probe_spec *p;
    int depth, idle;
    long long times;           /* -c: records at most, -1 no limit */
    double interval_s;
    pk_cpu_marks *marks;
    long long cycle;
} sampler;

int remote_top_applies(const rec_options *o)
{
    return o->nprobes == 1 && o->probes[0].pk->kind == PK_TOP &&
           pt_num(&o->probes[0].v, "outside", 0);
}

static cJSON *sample_json(const sampler *sm, const rs_snapshot *s, const rs_thread *th,
                          int64_t cpu, long long seq, int64_t wall, int64_t began)
{
    cJSON *o = rr_head("top", sm->p, sm->cycle, seq, wall);
    pk_status st;
    cJSON_AddNumberToObject(o, "interval_s", sm->interval_s);
    rr_add_u64(o, "thread_id", th->thread_id);
    if (pk_status_read(sm->t->pid, (pid_t)th->native_id, &st) == 0)
        cJSON_AddStringToObject(o, "thread_name", st.name);
    else
        cJSON_AddNullToObject(o, "thread_name");
    rr_add_u64(o, "native_id", th->native_id);
    if (cpu >= 0)
        rr_add_u64(o, "cpu_ns", (uint64_t)cpu);
    else
        cJSON_AddNullToObject(o, "cpu_ns");
    rr_add_stack(o, s, th);
    /* the GIL is never taken: the program was held up for none of it */
    cJSON_AddNumberToObject(o, "sample_ns", 0);
    cJSON_AddStringToObject(o, "source", "remote");
    cJSON_AddNumberToObject(o, "read_ns", (double)(pk_now_ns() - began));
    return o;
}

/* One round: every thread that used CPU since the last (every one with
 * --idle), as long as -c allows; prime only notes the CPU times.  The
 * records go into the recording; -1 when they cannot be written or
 * the memory runs out. */
static int sample(sampler *sm, int prime, char *err, size_t errlen)
{
    rs_snapshot s;
    char why[300];
    int64_t began = pk_now_ns(), wall = rr_wall_now();
    if (rs_read(sm->t, sm->depth, &s, why, sizeof why) < 0)
        return 0;   /* the process is going, or between states: the next round tells */
    char *jsonl = NULL;
    size_t len = 0;
    long long seq = sm->r->records;
    int rc = 0;
    sm->cycle += !prime;
    for (size_t i = 0; i < s.nthreads && rc == 0; i++) {
        uint64_t native = s.threads[i].native_id;
        int64_t cpu = pk_cpu_since(sm->marks, native, native ? pk_task_cpu_ns(sm->t->pid, (pid_t)native) : -1);
        if (prime || (!sm->idle && cpu <= 0) || (sm->times >= 0 && seq >= sm->times))
            continue;
        rc = rr_append(&jsonl, &len, sample_json(sm, &s, &s.threads[i], cpu, ++seq, wall, began));
    }
    rs_free(&s);
    if (rc < 0)
        snprintf(err, errlen, "out of memory");
    else if (len && recording_take_records(sm->r, (const uint8_t *)jsonl, (uint32_t)len, err,
                                           errlen) < 0)
        rc = -1;
    free(jsonl);
    return rc;
}

static int process_gone(pid_t pid)
{
    pk_status st;
    return pk_status_read(pid, 0, &st) != 0 || st.state == 'Z' || st.state == 'X';
}

static void sleep_until(int64_t when)
{
    struct timespec ts = {(time_t)(when / 1000000000), (long)(when % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !g_stop_signal)
        ;
}

/* Rounds every interval until one of the recording's limits. */
static rec_end run(sampler *sm, char *err, size_t errlen)
{
    const rec_options *o = sm->r->opt;
    int64_t step = (int64_t)(sm->interval_s * 1e9), next = pk_now_ns() + step;
    int64_t end = o->duration_s > 0 ? pk_now_ns() + (int64_t)(o->duration_s * 1e9) : 0;
    for (;;) {
        sleep_until(next);
        int64_t now = pk_now_ns();
        next = next + step > now ? next + step : now + step;   /* rounds missed are not made up */
        if (g_stop_signal)
            return END_SIGNAL;
        if (process_gone(o->pid))
            return END_TARGET_EXITED;
        if (sample(sm, 0, err, errlen) < 0)
            return END_WRITE_ERROR;
        if (sm->r->out_closed)
            return END_OUTPUT_CLOSED;
        if (sm->r->aw && peeka_aw_flush_due(sm->r->aw, now) < 0) {
            snprintf(err, errlen, "%s", peeka_aw_error(sm->r->aw));
            return END_WRITE_ERROR;
        }
        if (sm->times >= 0 && sm->r->records >= sm->times)
            return END_COUNT;
        if (end && now >= end)
            return END_DURATION;
    }
}

int remote_top_run(recording *r, const peeka_target *t, char *err, size_t errlen)
{
    const probe_spec *p = &r->opt->probes[0];
    rs_snapshot first;
    char why[600];
    /* not yet before 3.13: the layout table has been checked against the
     * one-shot dump only, not against a sampler's rate */
    int before_313 = t->major == 3 && t->minor < 13;
    if (before_313)
        snprintf(why, sizeof why, "pid %d: its threads cannot be read from outside: it needs "
                 "CPython 3.13 or later", (int)t->pid);
    if (before_313 || rs_read(t, 1, &first, why, sizeof why) < 0) {
        snprintf(err, errlen, "top --outside: %s; without --outside top samples through the agent",
                 why);
        return EX_NOTPYTHON;
    }
    rs_free(&first);
    sampler sm = {.r = r, .t = t, .p = p, .depth = (int)pt_num(&p->v, "max_depth", 64),
                  .idle = pt_num(&p->v, "idle", 0) != 0, .times = (long long)pt_num(&p->v, "times", -1),
                  .interval_s = pt_num(&p->v, "interval_s", 0.01), .marks = calloc(1, sizeof(pk_cpu_marks))};
    if (!sm.marks) {
        snprintf(err, errlen, "out of memory");
        return EX_INTERNAL;
    }
    r->attach.route = "outside";
    int rc = recording_outside_begin(r, err, errlen);
    if (rc == EX_OK_REC && sample(&sm, 1, err, errlen) < 0)
        rc = r->fail ? r->fail : EX_WRITE;
    if (rc == EX_OK_REC) {
        rec_end why_end = run(&sm, err, errlen);
        rc = why_end == END_WRITE_ERROR ? (r->fail ? r->fail : EX_WRITE)
                                        : recording_outside_end(r, why_end, err, errlen);
    }
    free(sm.marks);
    return rc;
}
