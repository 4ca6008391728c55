#include "proc_maps.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/dbus-daemon" */
static int parse_map_line(const char *line, pk_map *m)
{
    int pathpos = 0;
    unsigned long long start, end, off;
    char perms[8] = {0};
    if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &off,
               &pathpos) < 4)
        return -1;
    m->start = start;
    m->end = end;
    m->offset = off;
    memcpy(m->perms, perms, sizeof m->perms - 1);
    m->perms[sizeof m->perms - 1] = '\0';
    m->path[0] = '\0';
    if (pathpos > 0) {
        size_t len = strcspn(line + pathpos, "\n");
        if (len >= sizeof m->path)
            len = sizeof m->path - 1;
        memcpy(m->path, line + pathpos, len);
        m->path[len] = '\0';
    }
    return 0;
}

int pk_maps_read(pid_t pid, pk_maps *out)
{
    char fn[64], *line = NULL;
    size_t cap = 0, alloc = 0;
    out->v = NULL;
    out->n = 0;
    snprintf(fn, sizeof fn, "/proc/%d/maps", (int)pid);
    FILE *f = fopen(fn, "re");
    if (!f)
        return -errno;
    int rc = 0;
    while (getline(&line, &cap, f) > 0) {
        if (out->n == alloc) {
            size_t na = alloc ? alloc * 2 : 64;
            pk_map *nv = realloc(out->v, na * sizeof *nv);
            if (!nv) {
                rc = -ENOMEM;
                break;
            }
            out->v = nv;
            alloc = na;
        }
        if (parse_map_line(line, &out->v[out->n]) == 0)
            out->n++;
    }
    if (rc == 0 && ferror(f))
        rc = -EIO;
    free(line);
    fclose(f);
    if (rc == 0 && out->n == 0)
        rc = -ESRCH; /* a zombie has no mappings */
    if (rc)
        pk_maps_free(out);
    return rc;
}

void pk_maps_free(pk_maps *m)
{
    free(m->v);
    m->v = NULL;
    m->n = 0;
}

const pk_map *pk_maps_first_of(const pk_maps *m, const char *path)
{
    const pk_map *best = NULL;
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->v[i].path, path) == 0 && (!best || m->v[i].start < best->start))
            best = &m->v[i];
    return best;
}

static void status_field(pk_status *st, const char *line)
{
    if (strncmp(line, "State:", 6) == 0) {
        const char *p = line + 6;
        while (*p && isspace((unsigned char)*p))
            p++;
        st->state = *p;
    } else if (strncmp(line, "TracerPid:", 10) == 0) {
        st->tracer_pid = (pid_t)strtol(line + 10, NULL, 10);
    } else if (strncmp(line, "Seccomp:", 8) == 0) {
        st->seccomp = (int)strtol(line + 8, NULL, 10);
    } else if (strncmp(line, "Uid:", 4) == 0) {
        st->uid = (uid_t)strtoul(line + 4, NULL, 10);
    } else if (strncmp(line, "Name:", 5) == 0) {
        const char *p = line + 5;
        while (*p && isspace((unsigned char)*p))
            p++;
        size_t len = strcspn(p, "\n");
        if (len >= sizeof st->name)
            len = sizeof st->name - 1;
        memcpy(st->name, p, len);
        st->name[len] = '\0';
    }
}

int pk_status_read(pid_t pid, pid_t tid, pk_status *st)
{
    char fn[80], line[512];
    memset(st, 0, sizeof *st);
    st->seccomp = -1;
    if (tid > 0)
        snprintf(fn, sizeof fn, "/proc/%d/task/%d/status", (int)pid, (int)tid);
    else
        snprintf(fn, sizeof fn, "/proc/%d/status", (int)pid);
    FILE *f = fopen(fn, "re");
    if (!f)
        return -errno;
    while (fgets(line, sizeof line, f))
        status_field(st, line);
    fclose(f);
    return st->state ? 0 : -EIO;
}

int pk_tasks_list(pid_t pid, pid_t **tids, size_t *n)
{
    char fn[64];
    size_t alloc = 0;
    *tids = NULL;
    *n = 0;
    snprintf(fn, sizeof fn, "/proc/%d/task", (int)pid);
    DIR *d = opendir(fn);
    if (!d)
        return -errno;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        if (*n == alloc) {
            size_t na = alloc ? alloc * 2 : 16;
            pid_t *nv = realloc(*tids, na * sizeof *nv);
            if (!nv) {
                rc = -ENOMEM;
                break;
            }
            *tids = nv;
            alloc = na;
        }
        (*tids)[(*n)++] = (pid_t)strtol(e->d_name, NULL, 10);
    }
    closedir(d);
    if (rc) {
        free(*tids);
        *tids = NULL;
        *n = 0;
    }
    return rc;
}

int pk_task_syscall(pid_t pid, pid_t tid, pk_sysinfo *si)
{
    char fn[80], buf[512];
    memset(si, 0, sizeof *si);
    si->nr = -1;
    snprintf(fn, sizeof fn, "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
    FILE *f = fopen(fn, "re");
    if (!f)
        return -errno;
    char *got = fgets(buf, sizeof buf, f);
    int err = ferror(f) ? errno : 0;
    fclose(f);
    if (!got)
        return err ? -err : -ENOENT;
    if (strncmp(buf, "running", 7) == 0) {
        si->running = 1;
        return 0;
    }
    /* "nr a0 a1 a2 a3 a4 a5 sp pc", or "-1 sp pc" outside a syscall */
    unsigned long long a[8] = {0};
    long nr;
    int k = sscanf(buf, "%ld %llx %llx %llx %llx %llx %llx %llx %llx", &nr, &a[0], &a[1],
                   &a[2], &a[3], &a[4], &a[5], &a[6], &a[7]);
    if (k < 1)
        return -EIO;
    si->nr = nr;
    if (nr < 0) {
        si->sp = k >= 2 ? a[0] : 0;
        si->pc = k >= 3 ? a[1] : 0;
        return 0;
    }
    if (k != 9)
        return -EIO;
    for (int i = 0; i < 6; i++)
        si->args[i] = a[i];
    si->sp = a[6];
    si->pc = a[7];
    return 0;
}

int pk_fd_target(pid_t pid, int fd, char *buf, size_t len)
{
    char fn[64];
    if (len == 0)
        return -EINVAL;
    snprintf(fn, sizeof fn, "/proc/%d/fd/%d", (int)pid, fd);
    ssize_t k = readlink(fn, buf, len - 1);
    if (k < 0)
        return -errno;
    buf[k] = '\0';
    return 0;
}

/* The fields of a /proc stat file after the parenthesised comm (which may
 * itself hold spaces and parentheses), in buf; NULL when unreadable. */
static const char *stat_fields(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *close = strrchr(buf, ')');
    return close ? close + 1 : NULL;
}

static pid_t parent_of(const char *pid)
{
    char path[300], buf[512];
    snprintf(path, sizeof path, "/proc/%s/stat", pid);
    const char *after = stat_fields(path, buf, sizeof buf);
    int ppid;
    char state;
    return after && sscanf(after, " %c %d", &state, &ppid) == 2 ? (pid_t)ppid : -1;
}

pid_t pk_parent_of(pid_t pid)
{
    char s[32];
    snprintf(s, sizeof s, "%d", (int)pid);
    pid_t p = parent_of(s);
    return p > 0 ? p : 0;
}

static int exe_of(const char *pid, char *out, size_t len)
{
    char path[300];
    snprintf(path, sizeof path, "/proc/%s/exe", pid);
    ssize_t n = readlink(path, out, len - 1);
    if (n < 0)
        return -1;
    out[n] = 0;
    return 0;
}

static int index_of(const pid_t *v, size_t n, pid_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return (int)i;
    return -1;
}

int pk_same_exe_children_of(const pid_t *parents, size_t nparents, pid_t *out, pid_t *out_parent,
                            size_t max)
{
    char first[32], exe[4096], other[4096];
    if (nparents == 0)
        return 0;
    snprintf(first, sizeof first, "%d", (int)parents[0]);
    if (exe_of(first, exe, sizeof exe) < 0)
        return -errno;
    DIR *d = opendir("/proc");
    if (!d)
        return -errno;
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        pid_t pp = parent_of(e->d_name);
        if (pp <= 0 || index_of(parents, nparents, pp) < 0 ||
            exe_of(e->d_name, other, sizeof other) < 0 || strcmp(exe, other) != 0)
            continue;
        if ((size_t)found < max) {
            out[found] = (pid_t)strtol(e->d_name, NULL, 10);
            if (out_parent)
                out_parent[found] = pp;
        }
        found++;
    }
    closedir(d);
    return found;
}

int64_t pk_task_cpu_ns(pid_t pid, pid_t tid)
{
    char fn[80], buf[1024];
    unsigned long long ns, ut, st;
    /* schedstat's first field is the run time in ns; stat has it in ticks */
    snprintf(fn, sizeof fn, "/proc/%d/task/%d/schedstat", (int)pid, (int)tid);
    FILE *f = fopen(fn, "re");
    if (f) {
        int ok = fscanf(f, "%llu", &ns) == 1;
        fclose(f);
        if (ok)
            return (int64_t)ns;
    }
    snprintf(fn, sizeof fn, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
    const char *after = stat_fields(fn, buf, sizeof buf);
    long hz = sysconf(_SC_CLK_TCK);
    /* state is field 3, utime and stime fields 14 and 15 */
    if (!after || hz <= 0 || sscanf(after, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                                    &ut, &st) != 2)
        return -1;
    return (int64_t)((ut + st) * (1000000000ull / (unsigned long long)hz));
}

int pk_same_exe_children(pid_t pid, pid_t *out, size_t max)
{
    return pk_same_exe_children_of(&pid, 1, out, NULL, max);
}

int pk_agent_mapped(pid_t pid)
{
    pk_maps m;
    int rc = pk_maps_read(pid, &m);
    if (rc < 0)
        return rc;
    int found = 0;
    for (size_t i = 0; i < m.n && !found; i++)
        found = strstr(m.v[i].path, "/_peeka_agent.so") != NULL;
    pk_maps_free(&m);
    return found;
}
