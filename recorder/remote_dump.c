#include "remote_dump.h"
#include "attach_target.h"
#include "exitcodes.h"
#include "proc_maps.h"
#include "remote_records.h"
#include "remote_stacks.h"
#include "task_words.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the kernel says of one thread, as the agent's records have it. */
typedef struct task_view {
    const rs_thread *th;
    char name[64];
    char sched;
    long syscall;               /* -1 running, -2 unknown */
    const char *state;
} task_view;

int remote_dump_applies(const rec_options *o)
{
    return o->pid && o->nprobes == 1 && o->probes[0].pk->kind == PK_THREAD &&
           pt_num(&o->probes[0].v, "interval_s", 0) == 0 && !o->follow_forks && !o->detach_key &&
           !o->ring_bytes;
}

int remote_dump_reads(const peeka_target *t)
{
    return t && t->major == 3 && t->minor >= 8;
}

static void look(pid_t pid, const rs_thread *th, task_view *tv)
{
    pk_status st;
    pk_sysinfo si;
    pid_t tid = (pid_t)th->native_id;
    tv->th = th;
    tv->name[0] = 0;
    tv->sched = '?';
    tv->syscall = -2;
    if (tid > 0 && pk_status_read(pid, tid, &st) == 0) {
        tv->sched = st.state;
        snprintf(tv->name, sizeof tv->name, "%s", st.name);
    }
    if (tid > 0 && pk_task_syscall(pid, tid, &si) == 0)
        tv->syscall = si.running ? -1 : si.nr >= 0 ? si.nr : -2;
    tv->state = pk_task_word(tv->sched, tv->syscall);
}

static const char *sort_key;

static int by_key(const void *a, const void *b)
{
    const task_view *x = a, *y = b;
    int c = 0;
    if (!strcmp(sort_key, "name"))
        c = strcmp(x->name, y->name);
    else if (!strcmp(sort_key, "state"))
        c = strcmp(x->state, y->state);
    else if (!strcmp(sort_key, "depth"))
        c = (y->th->depth > x->th->depth) - (y->th->depth < x->th->depth);   /* deepest first */
    if (!c)
        c = (x->th->thread_id > y->th->thread_id) - (x->th->thread_id < y->th->thread_id);
    return c;
}

static int wanted(const probe_spec *p, const task_view *tv)
{
    double tid = pt_num(&p->v, "tid", 0);
    const char *state = pt_text(&p->v, "state");
    if (tid && tid != (double)tv->th->thread_id && tid != (double)tv->th->native_id)
        return 0;
    return !state || !strcmp(state, "any") || !strcmp(state, tv->state);
}

static void add_native(cJSON *o, const task_view *tv)
{
    const char *sc = tv->syscall >= 0 ? pk_syscall_name(tv->syscall) : NULL;
    char letter[2] = {tv->sched, 0};
    cJSON_AddStringToObject(o, "state", tv->state);
    if (sc)
        cJSON_AddStringToObject(o, "syscall", sc);
    else if (tv->syscall >= 0)
        cJSON_AddNumberToObject(o, "syscall", (double)tv->syscall);
    else
        cJSON_AddNullToObject(o, "syscall");
    if (tv->sched != '?')
        cJSON_AddStringToObject(o, "sched", letter);
    else
        cJSON_AddNullToObject(o, "sched");
}

/* seq is also the thread's index: every thread record of the snapshot
 * is one of probe 1's. */
static cJSON *thread_json(const probe_spec *p, pid_t pid, size_t count, const rs_snapshot *s,
                          const task_view *tv, long long seq, int64_t wall)
{
    const rs_thread *th = tv->th;
    cJSON *o = rr_head("thread", p, 1, seq, wall);
    cJSON_AddNumberToObject(o, "thread_count", (double)count);
    cJSON_AddNumberToObject(o, "index", (double)seq);
    rr_add_u64(o, "tid", th->thread_id);
    rr_add_u64(o, "thread_id", th->thread_id);
    rr_add_u64(o, "native_id", th->native_id);
    cJSON_AddStringToObject(o, "name", tv->name);
    cJSON_AddStringToObject(o, "thread_name", tv->name);
    cJSON_AddNullToObject(o, "daemon");   /* threading's objects are not read from outside */
    cJSON_AddBoolToObject(o, "alive", 1);
    add_native(o, tv);
    cJSON_AddNullToObject(o, "gil_waiter");
    int64_t cpu = pk_task_cpu_ns(pid, (pid_t)th->native_id);
    if (cpu >= 0)
        rr_add_u64(o, "cpu_ns", (uint64_t)cpu);
    else
        cJSON_AddNullToObject(o, "cpu_ns");
    cJSON_AddNumberToObject(o, "stack_depth", th->depth);
    if (th->nframes)
        cJSON_AddItemToObject(o, "top_frame", rr_frame(s, &th->frames[0]));
    else
        cJSON_AddNullToObject(o, "top_frame");
    rr_add_stack(o, s, th);
    cJSON_AddStringToObject(o, "source", "remote");
    cJSON_AddBoolToObject(o, "holds_gil", th->holds_gil);
    if (th->cut)
        cJSON_AddStringToObject(o, "stack_cut", th->cut);
    return o;
}

/* The snapshot's records, thread by thread in the probe's order. */
static int records_of(const probe_spec *p, pid_t pid, const rs_snapshot *s, char **out,
                      size_t *len)
{
    task_view *tv = calloc(s->nthreads ? s->nthreads : 1, sizeof *tv);
    int64_t wall = rr_wall_now();
    long long seq = 0;
    size_t n = 0;
    int rc = tv ? 0 : -1;
    for (size_t i = 0; tv && i < s->nthreads; i++)
        if (s->threads[i].depth || !attach_thread_is_ours(pid, (pid_t)s->threads[i].native_id))
            look(pid, &s->threads[i], &tv[n++]);   /* peeka's helper is never listed */
    sort_key = pt_text(&p->v, "sort_by") ? pt_text(&p->v, "sort_by") : "tid";
    if (tv && n > 1)
        qsort(tv, n, sizeof *tv, by_key);
    for (size_t i = 0; tv && rc == 0 && i < n; i++) {
        if (!wanted(p, &tv[i]))
            continue;
        seq++;
        rc = rr_append(out, len, thread_json(p, pid, n, s, &tv[i], seq, wall));
    }
    if (rc == 0 && seq == 0) {   /* a snapshot that is counted even when no thread matched */
        cJSON *o = rr_head("thread", p, 1, 1, wall);
        cJSON_AddNumberToObject(o, "thread_count", (double)n);
        cJSON_AddNumberToObject(o, "matched", 0);
        rc = rr_append(out, len, o);
    }
    free(tv);
    return rc;
}

/* The one line that says the records are not the agent's. */
static void say_how(const recording *r, const peeka_target *t, const rs_snapshot *s)
{
    char holder[160] = "";
    pk_status st;
    pid_t pid = r->opt->pid;
    if (s->gil_holder && pk_status_read(pid, (pid_t)s->gil_holder, &st) == 0)
        snprintf(holder, sizeof holder, ": thread %llu (%s) holds the GIL",
                 (unsigned long long)s->gil_holder, st.name);
    else if (s->gil_holder)
        snprintf(holder, sizeof holder, ": thread %llu holds the GIL",
                 (unsigned long long)s->gil_holder);
    fprintf(stderr, "peeka-rec: the agent could not get in within %.0f ms%s; the thread dump was "
            "read from outside the process instead\n", (double)attach_timeout_ms(r->opt, t), holder);
}

int remote_dump_run(recording *r, const peeka_target *t, char *err, size_t errlen)
{
    const probe_spec *p = &r->opt->probes[0];
    rs_snapshot s;
    char rerr[300];
    if (rs_read(t, (int)pt_num(&p->v, "max_depth", 50), &s, rerr, sizeof rerr) < 0) {
        size_t k = strnlen(err, errlen);
        if (k + 1 < errlen)
            snprintf(err + k, errlen - k, " (%s)", rerr);
        return EX_TIMEOUT;
    }
    char *jsonl = NULL;
    size_t len = 0;
    int rc = records_of(p, t->pid, &s, &jsonl, &len);
    if (rc == 0)
        say_how(r, t, &s);
    rs_free(&s);
    if (rc < 0) {
        free(jsonl);
        snprintf(err, errlen, "out of memory");
        return EX_INTERNAL;
    }
    r->attach.route = "outside";
    rc = recording_of_records(r, jsonl, len, err, errlen);
    free(jsonl);
    return rc;
}
