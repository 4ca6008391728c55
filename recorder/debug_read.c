#include "debug_read.h"

#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

#define DEBUG_COOKIE "xdebugpy"

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

int dv_open(dbg_view *v, const peeka_target *t, char *why, size_t whylen)
{
    v->pid = t->pid;
    v->interp = 0;
    if (t->major < 3 || (t->major == 3 && t->minor < 13)) {
        snprintf(why, whylen, "it needs CPython 3.13 or later");
        return -1;
    }
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
    v->interp = dv_ptr(v, t->runtime + dv_off(v, v->L->interpreters_head));
    if (!v->interp) {
        snprintf(why, whylen, "it has no interpreter yet");
        return -1;
    }
    return 0;
}

size_t dv_tstates(const dbg_view *v, uint64_t *out, size_t max)
{
    size_t n = 0;
    uint64_t ts = dv_ptr(v, v->interp + dv_off(v, v->L->threads_head));
    while (ts && n < max) {
        for (size_t k = 0; k < n; k++)
            if (out[k] == ts)
                return n;   /* a list changing under us looped back */
        out[n++] = ts;
        ts = dv_ptr(v, ts + dv_off(v, v->L->ts_next));
    }
    return n;
}

uint64_t dv_native_id(const dbg_view *v, uint64_t ts)
{
    return dv_ptr(v, ts + dv_off(v, v->L->ts_native_id));
}

int dv_gil_read(const dbg_view *v, dv_gil *g)
{
    uint64_t locked_at = v->interp + dv_off(v, v->L->gil_locked);
    int32_t locked = 0;
    uint64_t holder = 0, switches = 0;
    if (dv_read(v->pid, locked_at, &locked, sizeof locked) ||
        dv_read(v->pid, locked_at + v->L->gil_switches_after_locked, &switches, sizeof switches) ||
        dv_read(v->pid, v->interp + dv_off(v, v->L->gil_holder), &holder, sizeof holder))
        return -1;
    g->locked = locked == 1;
    g->holder_ts = holder;
    g->switches = switches;
    return 0;
}
