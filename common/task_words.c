/* What a thread's system call says it is doing (task_words.h). */
#include "task_words.h"

#include <stddef.h>

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
    {219, "restart_syscall", 0},
};
#define SYS_FUTEX 202
#elif defined(__aarch64__)
static const syscall_info known[] = {
    {63, "read", 0}, {64, "write", 0}, {73, "ppoll", 1}, {72, "pselect6", 1},
    {101, "nanosleep", 1}, {115, "clock_nanosleep", 1}, {203, "connect", 0},
    {202, "accept", 1}, {242, "accept4", 1}, {206, "sendto", 0}, {207, "recvfrom", 0},
    {211, "sendmsg", 0}, {212, "recvmsg", 0}, {260, "wait4", 0}, {98, "futex", 0},
    {22, "epoll_pwait", 1}, {67, "pread64", 0}, {68, "pwrite64", 0}, {95, "waitid", 0},
    {137, "rt_sigtimedwait", 1}, {133, "rt_sigsuspend", 1}, {128, "restart_syscall", 0},
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

const char *pk_syscall_name(long nr)
{
    const syscall_info *s = info_of(nr);
    return s ? s->name : NULL;
}

const char *pk_task_word(char sched, long syscall)
{
    if (syscall == -1 || (syscall == -2 && sched == 'R'))
        return "running";
    if (syscall == SYS_FUTEX)
        return "lock";
    const syscall_info *s = info_of(syscall);
    if (s && s->idle)
        return "idle";
    return syscall >= 0 ? "syscall" : sched == 'R' ? "running" : "unknown";
}
