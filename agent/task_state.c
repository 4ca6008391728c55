/* A thread's state from /proc/self/task/TID (task_state.h). */
#include "task_state.h"
#include "task_words.h"

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

const char *task_syscall_name(long nr)
{
    return pk_syscall_name(nr);
}

const char *task_state_word(const task_state *t)
{
    return pk_task_word(t->sched, t->syscall);
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
