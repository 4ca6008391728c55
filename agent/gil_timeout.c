/* A thread snapshot that could not have the GIL within --wait
 * (thread_probe.h): every thread as the kernel sees it, and the one holding
 * the GIL.  No GIL, no Python: /proc/self/task, and a few words of the
 * GIL read with process_vm_readv. */
#include "thread_probe.h"
#include "observe.h"
#include "task_state.h"

#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>


typedef struct {
    pid_t tid;
    task_state ts;
    int waiter;                 /* waits on the futex the sampler waits on: the GIL */
    int name;                   /* index in names[], or -1 */
} task_info;

#define TASKS_MAX 4096

static const known_thread *names;   /* the last snapshot's, under sampler.c's lock */
static int nnames;

static int name_of(pid_t tid)
{
    for (int i = 0; i < nnames; i++)
        if (names[i].native == tid)
            return i;
    return -1;
}

static int skipped_tid(pid_t tid, const pid_t *skip, int nskip)
{
    for (int i = 0; i < nskip; i++)
        if (skip[i] == tid)
            return 1;
    return 0;
}

static int read_tasks(task_info *v, int max, const pid_t *skip, int nskip, unsigned long gil_futex)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while (n < max && (e = readdir(d))) {
        pid_t tid = (pid_t)atoi(e->d_name);
        if (tid <= 0 || skipped_tid(tid, skip, nskip) || task_state_read(tid, &v[n].ts) < 0)
            continue;
        v[n].tid = tid;
        v[n].waiter = gil_futex && v[n].ts.arg0 == gil_futex && !strcmp(task_state_word(&v[n].ts), "lock");
        v[n].name = name_of(tid);
        n++;
    }
    closedir(d);
    return n;
}

/* The GIL's `last_holder`, found without knowing the interpreter's
 * layout: the sampler waits on the GIL's condition variable, and a few
 * words before it the GIL keeps a pointer to the thread state holding it
 * (CPython 3.8-3.15).  The words are read with process_vm_readv on
 * ourselves, which fails instead of faulting, and only a value equal to a
 * thread state of the last snapshot counts.  Its index in names[], or -1. */
static int gil_last_holder(unsigned long gil_futex)
{
    uintptr_t words[32];
    if (!gil_futex || gil_futex < sizeof words)
        return -1;
    struct iovec local = {words, sizeof words};
    struct iovec remote = {(void *)((gil_futex & ~(uintptr_t)7) - sizeof words), sizeof words};
    if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != (ssize_t)sizeof words)
        return -1;
    for (int k = 31; k >= 0; k--)   /* nearest first */
        for (int i = 0; words[k] && i < nnames; i++)
            if ((uintptr_t)names[i].tstate == words[k])
                return i;
    return -1;
}

static int task_named(const task_info *v, int n, int name)
{
    for (int i = 0; name >= 0 && i < n; i++)
        if (v[i].name == name)
            return i;
    return -1;
}

/* The one thread that is not waiting for the GIL and is running, else the
 * one Python thread in a system call that is neither a wait nor a sleep;
 * -1 when the kernel cannot tell. */
static int likely_holder(const task_info *v, int n)
{
    int running = -1, nrunning = 0, python = -1, npython = 0;
    for (int i = 0; i < n; i++) {
        if (v[i].waiter)
            continue;
        if (!strcmp(task_state_word(&v[i].ts), "running")) {
            running = i;
            nrunning++;
        }
        const char *st = task_state_word(&v[i].ts);
        if (v[i].name >= 0 && strcmp(st, "idle") && strcmp(st, "lock")) {   /* waiting, not holding */
            python = i;
            npython++;
        }
    }
    return nrunning == 1 ? running : npython == 1 ? python : -1;
}

static void write_task(jsonw *w, const task_info *t, int with_waiter)
{
    const char *state = task_state_word(&t->ts);
    jsonw_lit(w, "{\"native_id\":");
    jsonw_i64(w, t->tid);
    jsonw_lit(w, ",\"thread_id\":");
    if (t->name >= 0)
        jsonw_u64(w, names[t->name].ident);
    else
        jsonw_lit(w, "null");
    jsonw_lit(w, ",\"name\":");
    if (t->name >= 0 && names[t->name].name[0])
        jsonw_str(w, names[t->name].name, strlen(names[t->name].name));
    else
        jsonw_lit(w, "null");
    jsonw_lit(w, ",\"state\":");
    jsonw_str(w, state, strlen(state));
    snapshot_write_native(w, &t->ts);
    if (with_waiter) {
        if (t->waiter)
            jsonw_lit(w, ",\"gil_waiter\":true");
        else
            jsonw_lit(w, ",\"gil_waiter\":false");
    }
    jsonw_char(w, '}');
}

int snapshot_timeout(probe *p, jsonw *w, int64_t cycle, int64_t waited_ns,
                     const pid_t *skip, int nskip, unsigned long gil_futex)
{
    static task_info v[TASKS_MAX];   /* under sampler.c's lock */
    nnames = snapshot_known(&names);
    int n = read_tasks(v, TASKS_MAX, skip, nskip, gil_futex);
    int h = task_named(v, n, gil_last_holder(gil_futex));
    const char *how = "gil";
    if (h < 0) {
        h = likely_holder(v, n);
        how = "guess";
    }
    size_t mark = w->len;
    write_head(w, "thread", p, cycle, wall_of_mono(now_mono_ns()), "null", 4);
    jsonw_lit(w, ",\"gil_timeout\":true,\"waited_ms\":");
    write_ms(w, waited_ns);
    jsonw_lit(w, ",\"thread_count\":");
    jsonw_i64(w, n);
    jsonw_lit(w, ",\"gil_holder\":");
    if (h >= 0)
        write_task(w, &v[h], 0);
    else
        jsonw_lit(w, "null");
    jsonw_lit(w, ",\"gil_holder_from\":");
    if (h >= 0)
        jsonw_str(w, how, strlen(how));
    else
        jsonw_lit(w, "null");
    jsonw_lit(w, ",\"tasks\":[");
    for (int i = 0; i < n; i++) {
        if (i)
            jsonw_char(w, ',');
        write_task(w, &v[i], 1);
    }
    jsonw_lit(w, "]}\n");
    return sampled_record_kept(p, w, mark);
}
