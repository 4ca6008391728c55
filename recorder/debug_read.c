#include "debug_read.h"
#include "pthread_tids.h"
#include "py_layout_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#define DEBUG_COOKIE "xdebugpy"
#define OFFSET_MAX (1u << 20)   /* no field of these structs is further in */

int dv_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
    struct iovec l = {buf, len}, r = {(void *)(uintptr_t)addr, len};
    return process_vm_readv(pid, &l, 1, &r, 1, 0) == (ssize_t)len ? 0 : -1;
}

uint64_t dv_off(const dbg_view *v, uint32_t field)
{
    uint64_t x;
    memcpy(&x, v->dbg + field, sizeof x);
    return x;
}

uint64_t dv_ptr(const dbg_view *v, uint64_t addr)
{
    uint64_t x = 0;
    return dv_read(v->pid, addr, &x, sizeof x) == 0 ? x : 0;
}

/* The target's _Py_DebugOffsets into v->dbg, checked against its version. */
static int debug_offsets_read(dbg_view *v, const peeka_target *t, char *why, size_t whylen)
{
    if (!(v->L = rx_layout_for(t->major, t->minor))) {
        snprintf(why, whylen, "this CPython's _Py_DebugOffsets layout is not known to this peeka");
        return -1;
    }
    if (!t->runtime || v->L->size > sizeof v->dbg || dv_read(t->pid, t->runtime, v->dbg, v->L->size)) {
        snprintf(why, whylen, "its _Py_DebugOffsets cannot be read");
        return -1;
    }
    uint64_t version = dv_off(v, 8), free_threaded = dv_off(v, 16);
    if (memcmp(v->dbg, DEBUG_COOKIE, 8) != 0 || ((version >> 24) & 0xff) != (uint64_t)t->major ||
        ((version >> 16) & 0xff) != (uint64_t)t->minor || free_threaded) {
        snprintf(why, whylen, "its _Py_DebugOffsets are not those of this CPython version");
        return -1;
    }
    return 0;
}

/* One _Py_DebugOffsets column as a pk_py_layout field: -1 when it is too
 * far out to be an offset (then the rest is not trusted either). */
static int col(const dbg_view *v, uint32_t field, uint32_t *out)
{
    uint64_t x = dv_off(v, field);
    *out = (uint32_t)x;
    return x < OFFSET_MAX ? 0 : -1;
}

/* 3.13+: v->o from the _Py_DebugOffsets columns (3.13's frame pointer sits
 * in the thread state itself: there is no _PyCFrame). */
static int from_debug_offsets(dbg_view *v)
{
    const rx_layout *L = v->L;
    pk_py_layout *o = &v->o;
    const struct { uint32_t field, *out; } m[] = {
        {L->interpreters_head, &o->rt_interpreters_head}, {L->threads_head, &o->in_threads_head},
        {L->ts_next, &o->ts_next}, {L->ts_thread_id, &o->ts_thread_id},
        {L->ts_native_id, &o->ts_native_id}, {L->ts_current_frame, &o->ts_frame},
        {L->fr_previous, &o->fr_previous}, {L->fr_executable, &o->fr_code},
        {L->fr_instr_ptr, &o->fr_instr}, {L->fr_owner, &o->fr_owner},
        {L->co_filename, &o->co_filename}, {L->co_name, &o->co_name},
        {L->co_linetable, &o->co_linetable}, {L->co_firstlineno, &o->co_firstlineno},
        {L->co_code_adaptive, &o->co_code_adaptive}, {L->ob_type, &o->ob_type},
        {L->tp_name, &o->tp_name}, {L->bytes_size, &o->bytes_size},
        {L->bytes_sval, &o->bytes_sval}, {L->str_state, &o->str_state},
        {L->str_length, &o->str_length}, {L->str_ascii_size, &o->str_ascii_size},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (col(v, m[i].field, m[i].out) < 0)
            return -1;
    o->str_compact_size = L->str_compact_size;
    uint32_t locked, holder;
    if (col(v, L->gil_locked, &locked) < 0 || col(v, L->gil_holder, &holder) < 0)
        return -1;
    v->gil_locked_at = v->interp + locked;
    v->gil_holder_at = v->interp + holder;
    v->gil_switches_at = v->gil_locked_at + L->gil_switches_after_locked;
    return 0;
}

/* 3.8-3.12: the GIL is _PyRuntime's up to 3.11, the interpreter's (through
 * a pointer) on 3.12. */
static int old_gil(dbg_view *v, uint64_t runtime)
{
    uint64_t gil = v->minor >= 12 ? dv_ptr(v, v->interp + v->o.in_gil_ptr) : runtime + v->o.rt_gil;
    if (!gil)
        return -1;
    v->gil_locked_at = gil + v->o.gil_locked;
    v->gil_holder_at = gil + v->o.gil_last_holder;
    v->gil_switches_at = gil + v->o.gil_switch_number;
    return 0;
}

int dv_open(dbg_view *v, const peeka_target *t, char *why, size_t whylen)
{
    v->pid = t->pid;
    v->minor = t->minor;
    v->interp = 0;
    v->L = NULL;
    if (t->major != 3 || t->minor < 8) {
        snprintf(why, whylen, "it needs CPython 3.8 or later");
        return -1;
    }
    if (t->minor >= 13 ? debug_offsets_read(v, t, why, whylen) < 0
                       : pk_py_layout_read(t->major, t->minor, &v->o, why, whylen) < 0)
        return -1;
    uint32_t head = t->minor >= 13 ? (uint32_t)dv_off(v, v->L->interpreters_head)
                                   : v->o.rt_interpreters_head;
    v->interp = t->runtime ? dv_ptr(v, t->runtime + head) : 0;
    if (!v->interp) {
        snprintf(why, whylen, t->runtime ? "it has no interpreter yet" : "it has no _PyRuntime symbol");
        return -1;
    }
    if (t->minor >= 13 ? from_debug_offsets(v) < 0 : old_gil(v, t->runtime) < 0) {
        snprintf(why, whylen, "its interpreter state does not look like one");
        return -1;
    }
    return 0;
}

size_t dv_tstates(const dbg_view *v, uint64_t *out, size_t max)
{
    size_t n = 0;
    uint64_t ts = dv_ptr(v, v->interp + v->o.in_threads_head);
    while (ts && n < max) {
        for (size_t k = 0; k < n; k++)
            if (out[k] == ts)
                return n;   /* a list changing under us looped back */
        out[n++] = ts;
        ts = dv_ptr(v, ts + v->o.ts_next);
    }
    return n;
}

uint64_t dv_native_id(const dbg_view *v, uint64_t ts)
{
    return dv_ptr(v, ts + v->o.ts_native_id);
}

void dv_native_ids(const dbg_view *v, const uint64_t *ts, size_t n, uint64_t *out)
{
    if (v->minor >= 11) {
        for (size_t i = 0; i < n; i++)
            out[i] = dv_native_id(v, ts[i]);
        return;
    }
    uint64_t *ids = malloc((n ? n : 1) * sizeof *ids);
    for (size_t i = 0; ids && i < n; i++)
        ids[i] = dv_ptr(v, ts[i] + v->o.ts_thread_id);
    if (ids)
        pk_pthread_tids(v->pid, ids, n, out);
    else
        memset(out, 0, n * sizeof *out);
    free(ids);
}

int dv_gil_read(const dbg_view *v, dv_gil *g)
{
    int32_t locked = 0;
    uint64_t holder = 0, switches = 0;
    if (dv_read(v->pid, v->gil_locked_at, &locked, sizeof locked) ||
        dv_read(v->pid, v->gil_switches_at, &switches, sizeof switches) ||
        dv_read(v->pid, v->gil_holder_at, &holder, sizeof holder))
        return -1;
    g->locked = locked == 1;
    g->holder_ts = holder;
    g->switches = switches;
    return 0;
}
