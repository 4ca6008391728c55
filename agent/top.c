/* top's samples (top.h).  A thread is sampled when its CPU time moved
 * since the last sample (Linux's per-thread CPU clock: one system call),
 * so threads parked in a sleep, a lock or a select do not fill the table
 * with their waiting frames; --idle samples them too. */
#include "top.h"
#include "cpu_marks.h"
#include "observe.h"
#include "pyframes.h"
#include "thread_probe.h"
#include "task_state.h"

#include <stdlib.h>

typedef struct top_state {
    pk_cpu_marks marks;
} top_state;

/* The CPU time used since the last look; -1 the first time (or when the
 * kernel cannot say). */
static int64_t cpu_delta(top_state *s, long native)
{
    return pk_cpu_since(&s->marks, (uint64_t)native, native > 0 ? task_cpu_ns((pid_t)native) : -1);
}

int top_prime(probe *p, const unsigned long *skip, int nskip)
{
    if (!p->top && !(p->top = calloc(1, sizeof *p->top)))
        return -1;
    top_sample(p, NULL, 0, skip, nskip, 0);
    return 0;
}

static int write_sample(jsonw *w, probe *p, int64_t cycle, int64_t wall, PyThreadState *t,
                         long native, PyObject *name, int64_t cpu, PyFrameObject *f, int64_t began)
{
    size_t mark = w->len;
    write_head(w, "top", p, cycle, wall, "null", 4);
    jsonw_lit(w, ",\"interval_s\":");
    write_ms(w, p->interval_ns / 1000);
    jsonw_lit(w, ",\"thread_id\":");
    jsonw_u64(w, t->thread_id);
    jsonw_lit(w, ",\"thread_name\":");
    fmt_text_or_null(w, name);
    jsonw_lit(w, ",\"native_id\":");
    jsonw_i64(w, native);
    jsonw_lit(w, ",\"cpu_ns\":");
    if (cpu >= 0)
        jsonw_i64(w, cpu);
    else
        jsonw_lit(w, "null");
    jsonw_lit(w, ",\"stack\":[");
    pyframes_write(w, f, p->max_depth, 1, 0);
    /* how long this sample has kept the GIL from the program so far */
    jsonw_lit(w, "],\"sample_ns\":");
    jsonw_i64(w, now_mono_ns() - began);
    jsonw_lit(w, "}\n");
    return sampled_record_kept(p, w, mark);
}

/* w NULL: only note the CPU times. */
int top_sample(probe *p, jsonw *w, int64_t cycle, const unsigned long *skip, int nskip, int64_t max)
{
    int written = 0;
    if (!p->top)
        return 0;
    PyThreadState *self = PyThreadState_Get();
    PyObject *active = pythread_active();
    int64_t began = now_mono_ns(), wall = wall_of_mono(began);
    for (PyThreadState *t = PyInterpreterState_ThreadHead(self->interp); t; t = PyThreadState_Next(t)) {
        if (t == self || pythread_skipped(t->thread_id, skip, nskip))
            continue;
        long native;
        PyObject *name;
        pythread_describe(t, active, &native, &name);
        int64_t cpu = cpu_delta(p->top, native);
        PyFrameObject *f = w && written < max && (p->idle || cpu > 0) ? pyframe_of_thread(t) : NULL;
        if (f)
            written += write_sample(w, p, cycle, wall, t, native, name, cpu, f, began);
        Py_XDECREF(f);
        Py_XDECREF(name);
    }
    Py_XDECREF(active);
    PyErr_Clear();
    return written;
}

void top_state_free(probe *p)
{
    free(p->top);
    p->top = NULL;
}
