/* trace's node clock (trace_clock.h). */
#include "trace_clock.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int tclock_tsc;

#define SHIFT 32
static int inited;
static int64_t ref_ticks, ref_ns;
static uint64_t mult = (uint64_t)1 << SHIFT;   /* ns per tick, fixed point */

/* The kernel only keeps time with the TSC when it found it invariant and
 * synchronised across CPUs; then so can we. */
static int kernel_uses_tsc(void)
{
#if defined(__x86_64__)
    int fd = open("/sys/devices/system/clocksource/clocksource0/current_clocksource", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[16];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    (void)close(fd);
    return n == 4 && memcmp(buf, "tsc\n", 4) == 0;
#else
    return 0;
#endif
}

/* A (ticks, ns) pair taken as close together as two clock reads allow. */
static void pair(int64_t *ticks, int64_t *ns)
{
    int64_t a = now_mono_ns();
    *ticks = tclock_now();
    int64_t b = now_mono_ns();
    *ns = a + (b - a) / 2;
}

void tclock_init(void)
{
    if (inited)
        return;
    inited = 1;
    tclock_tsc = kernel_uses_tsc();
    pair(&ref_ticks, &ref_ns);
}

void tclock_calibrate(void)
{
    if (!tclock_tsc)
        return;
    int64_t ticks, ns;
    pair(&ticks, &ns);
    if (ticks <= ref_ticks || ns <= ref_ns)
        return;
    unsigned __int128 m = ((unsigned __int128)(uint64_t)(ns - ref_ns) << SHIFT) / (uint64_t)(ticks - ref_ticks);
    if (m > 0 && m <= UINT64_MAX)
        mult = (uint64_t)m;
}

int64_t tclock_ns(int64_t ticks)
{
    if (ticks <= 0)
        return 0;
    return (int64_t)(((unsigned __int128)(uint64_t)ticks * mult) >> SHIFT);
}
