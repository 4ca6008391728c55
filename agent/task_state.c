/* A thread's state from /proc/self/task/TID (task_state.h). */
#include "task_state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The whole of a small /proc file, NUL-terminated; -1 on failure. */
static ssize_t read_small(pid_t tid, const char *leaf, char *buf, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/%s", (int)tid, leaf);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n;
    do
        n = read(fd, buf, cap - 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = 0;
    return n;
}

int task_state_read(pid_t tid, task_state *out)
{
    char buf[512];
    out->sched = '?';
    out->syscall = -2;
    out->arg0 = 0;
    if (read_small(tid, "stat", buf, sizeof buf) < 0)
        return -1;
    const char *rp = strrchr(buf, ')');   /* the name may hold spaces and parentheses */
    if (rp && rp[1] == ' ' && rp[2])
        out->sched = rp[2];
    if (read_small(tid, "syscall", buf, sizeof buf) > 0) {
        if (!strncmp(buf, "running", 7)) {
            out->syscall = -1;
        } else {
            char *end;
            long nr = strtol(buf, &end, 10);
            if (end != buf && nr >= 0) {
                out->syscall = nr;
                out->arg0 = strtoul(end, NULL, 16);
            }
        }
    }
    return 0;
}

typedef struct {
    long nr;
    const char *name;
    char idle;   /* a thread parked here waits for work, not for a result */
} syscall_info;

#if defined(__x86_64__)
static const syscall_info known[] = {
    {0, "read", 0}, {1, "write", 0}, {7, "poll", 1}, {23, "select", 1}, {34, "pause", 1},
    {35, "nanosleep", 1}, {42, "connect", 0}, {43, "accept", 1}, {44, "sendto", 0},
    {45, "recvfrom", 0}, {46, "sendmsg", 0}, {47, "recvmsg", 0}, {61, "wait4", 0},
    {202, "futex", 0}, {230, "clock_nanosleep", 1}, {232, "epoll_wait", 1},
    {270, "pselect6", 1}, {271, "ppoll", 1}, {281, "epoll_pwait", 1}, {288, "accept4", 1},
    {17, "pread64", 0}, {18, "pwrite64", 0}, {19, "readv", 0}, {20, "writev", 0},
    {247, "waitid", 0}, {128, "rt_sigtimedwait", 1}, {130, "rt_sigsuspend", 1},
};
#define SYS_FUTEX 202
#elif defined(__aarch64__)
static const syscall_info known[] = {
    {63, "read", 0}, {64, "write", 0}, {73, "ppoll", 1}, {72, "pselect6", 1},
    {101, "nanosleep", 1}, {115, "clock_nanosleep", 1}, {203, "connect", 0},
    {202, "accept", 1}, {242, "accept4", 1}, {206, "sendto", 0}, {207, "recvfrom", 0},
    {211, "sendmsg", 0}, {212, "recvmsg", 0}, {260, "wait4", 0}, {98, "futex", 0},
    {22, "epoll_pwait", 1}, {67, "pread64", 0}, {68, "pwrite64", 0}, {95, "waitid", 0},
    {137, "rt_sigtimedwait", 1}, {133, "rt_sigsuspend", 1},
};
#define SYS_FUTEX 98
#else
static const syscall_info known[] = {{-3, NULL, 0}};
#define SYS_FUTEX -3
#endif

static const syscall_info *info_of(long nr)
{
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (known[i].nr == nr)
            return &known[i];
    return NULL;
}

const char *task_syscall_name(long nr)
{
    const syscall_info *s = info_of(nr);
    return s ? s->name : NULL;
}

const char *task_state_word(const task_state *t)
{
    if (t->syscall == -1 || (t->syscall == -2 && t->sched == 'R'))
        return "running";
    if (t->syscall == SYS_FUTEX)
        return "lock";
    const syscall_info *s = info_of(t->syscall);
    if (s && s->idle)
        return "idle";
    return t->syscall >= 0 ? "syscall" : t->sched == 'R' ? "running" : "unknown";
}

/* Linux's clock id for one thread's CPU time (what glibc's
 * pthread_getcpuclockid builds): no pthread_t needed, only its tid. */
int64_t task_cpu_ns(pid_t tid)
{
    clockid_t id = (clockid_t)((~(unsigned)tid << 3) | 6);
    struct timespec ts;
    if (clock_gettime(id, &ts) < 0)
        return -1;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
