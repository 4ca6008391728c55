/* trace's use of the agent's sys.monitoring tool (see trace_monitoring.h):
 * global events on while some thread runs a traced call. */
#include "trace_monitoring.h"

#if PY_VERSION_HEX >= 0x030C0000

static struct {
    int users;                  /* trace probes alive */
    int active, active_builtins;   /* traced calls running now */
    unsigned gen;
} T;

int tmon_acquire(mon_handler handler, char *err, size_t errlen)
{
    if (mon_acquire(MON_TRACE, handler, "trace", err, errlen) < 0)
        return -1;
    if (T.users++ == 0 && ++T.gen == 0)
        T.gen = 1;
    return 0;
}

void tmon_release(void)
{
    if (T.users == 0)
        return;
    if (--T.users == 0) {   /* calls still running end with a stale generation */
        T.active = T.active_builtins = 0;
        if (++T.gen == 0)
            T.gen = 1;
    }
    mon_release(MON_TRACE);
}

static long wanted_mask(void)
{
    if (!T.active)
        return 0;
    long m = mon_bit(MEV_START) | mon_bit(MEV_RESUME) | mon_bit(MEV_THROW) | mon_bit(MEV_RETURN) |
             mon_bit(MEV_YIELD) | mon_bit(MEV_UNWIND);
    /* C_RETURN and C_RAISE come with CALL: they cannot be set alone */
    return T.active_builtins ? m | mon_bit(MEV_CALL) : m;
}

unsigned tmon_begin(int builtins)
{
    if (T.users == 0)
        return 0;
    T.active++;
    T.active_builtins += builtins != 0;
    if (mon_set_global(MON_TRACE, wanted_mask()) < 0) {
        T.active--;
        T.active_builtins -= builtins != 0;
        return 0;
    }
    return T.gen;
}

void tmon_end(unsigned gen, int builtins)
{
    if (gen != T.gen || T.users == 0 || T.active == 0)
        return;   /* the tool was given back while this call ran */
    T.active--;
    T.active_builtins -= builtins != 0;
    (void)mon_set_global(MON_TRACE, wanted_mask());   /* failed: events stay on, the handler ignores them */
}

#endif
