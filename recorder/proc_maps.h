/* What /proc says about another process: its memory mappings, its state,
 * its threads, and what each thread is blocked in.  Linux only. */
#ifndef PEEKA_PROC_MAPS_H
#define PEEKA_PROC_MAPS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PK_PATH_MAX 4096

typedef struct pk_map {
    uint64_t start, end, offset;
    char perms[5];          /* "r-xp" */
    char path[PK_PATH_MAX]; /* "" for anonymous; may end in " (deleted)" */
} pk_map;

typedef struct pk_maps {
    pk_map *v;
    size_t n;
} pk_maps;

/* 0, or -errno (ENOENT: no such process; EACCES: not allowed). */
int  pk_maps_read(pid_t pid, pk_maps *out);
void pk_maps_free(pk_maps *m);
/* The lowest mapping of `path` (its first PT_LOAD), or NULL. */
const pk_map *pk_maps_first_of(const pk_maps *m, const char *path);

typedef struct pk_status {
    char state;        /* 'R', 'S', 'D', 'T', 't', 'Z', 'X' ... */
    pid_t tracer_pid;  /* 0 when nobody traces it */
    int seccomp;       /* 0 off, 1 strict, 2 filter, -1 unknown */
    uid_t uid;         /* real uid */
    char name[64];
} pk_status;

/* Reads /proc/PID/status (or /proc/PID/task/TID/status when tid > 0).
 * 0, or -errno. */
int pk_status_read(pid_t pid, pid_t tid, pk_status *st);

/* The thread ids of pid, in /proc order.  *tids is malloc'd.  0 or -errno. */
int pk_tasks_list(pid_t pid, pid_t **tids, size_t *n);

/* What a thread is doing according to /proc/PID/task/TID/syscall. */
typedef struct pk_sysinfo {
    int running;        /* 1: in user space or runnable ("running") */
    long nr;            /* syscall number when blocked, -1 otherwise */
    uint64_t args[6];
    uint64_t sp, pc;
} pk_sysinfo;

/* 0, or -errno (ENOENT: the thread is gone). */
int pk_task_syscall(pid_t pid, pid_t tid, pk_sysinfo *si);

/* The CPU time thread tid of pid used so far, in ns (schedstat's run
 * time; where there is none, user + system at the kernel's clock tick);
 * -1 when /proc cannot say. */
int64_t pk_task_cpu_ns(pid_t pid, pid_t tid);

/* Reads the symlink /proc/PID/fd/N into buf ("socket:[123]", "/tmp/x").
 * 0 or -errno. */
int pk_fd_target(pid_t pid, int fd, char *buf, size_t len);

/* The processes whose parent is pid and that run the same executable (a
 * gunicorn master's workers, a multiprocessing pool): up to max of them
 * into out.  Returns how many were found (may exceed max), or -errno. */
int pk_same_exe_children(pid_t pid, pid_t *out, size_t max);
/* The same for the children of any of parents[] (one walk of /proc), each
 * with its parent in out_parent (when not NULL); the executable compared
 * is parents[0]'s. */
int pk_same_exe_children_of(const pid_t *parents, size_t nparents, pid_t *out, pid_t *out_parent,
                            size_t max);
/* The ppid field of /proc/PID/stat; 0 when unknown. */
pid_t pk_parent_of(pid_t pid);
/* 1 when pid maps a peeka agent (_peeka_agent.so), 0 when not, -errno
 * when its maps cannot be read (ENOENT: no such process). */
int pk_agent_mapped(pid_t pid);

#endif
