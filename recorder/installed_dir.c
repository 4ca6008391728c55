/* Finding a pre-installed agent from outside, with no ptrace: what
 * /proc/PID/status and /proc/PID/stat say (world-readable even for a
 * non-dumpable process, unlike maps, environ and exe), and the
 * registration file python/peeka_agent writes as PID.installed in its
 * user's private directory. */
#include "installed_agent.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REG_MAX 4096

/* The second number (effective id) of a "Uid:" or "Gid:" line. */
static int status_ids(pid_t pid, uid_t *uid, gid_t *gid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int got = 0;
    unsigned long r, e;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "Uid: %lu %lu", &r, &e) == 2) { *uid = (uid_t)e; got |= 1; }
        if (sscanf(line, "Gid: %lu %lu", &r, &e) == 2) { *gid = (gid_t)e; got |= 2; }
    }
    fclose(f);
    return got == 3 ? 0 : -1;
}

/* comm and start time (field 22) from /proc/PID/stat. */
static int stat_identity(pid_t pid, char *comm, size_t commlen, char *start, size_t startlen)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    char *lp = strchr(buf, '('), *rp = strrchr(buf, ')');
    if (!lp || !rp || rp < lp)
        return -1;
    snprintf(comm, commlen, "%.*s", (int)(rp - lp - 1), lp + 1);
    char *p = rp + 2;   /* field 3, the state */
    for (int field = 3; field < 22 && p; field++) {
        p = strchr(p, ' ');
        if (p) p++;
    }
    if (!p)
        return -1;
    snprintf(start, startlen, "%.*s", (int)strcspn(p, " \n"), p);
    return 0;
}

/* A real directory of uid, closed to everyone else. */
static int private_dir(const char *path, uid_t uid)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid && (st.st_mode & 077) == 0;
}

/* The value of `key=` in a registration, or "" (out bounded by n). */
static void reg_value(const char *text, const char *key, char *out, size_t n)
{
    size_t kl = strlen(key);
    out[0] = 0;
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (!strncmp(l, key, kl) && l[kl] == '=') {
            snprintf(out, n, "%.*s", (int)strcspn(l + kl + 1, "\n"), l + kl + 1);
            return;
        }
}

/* The registration's text if it is a regular file of uid, mode 0600 or
 * stricter, not a symlink; -1 otherwise. */
static int read_registration(const char *path, uid_t uid, char *text, size_t n)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    ssize_t got = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == uid && (st.st_mode & 077) == 0)
        got = read(fd, text, n - 1);
    close(fd);
    if (got < 0)
        return -1;
    text[got] = 0;
    return 0;
}

/* Where python/peeka_agent may have registered (its _private_dir): our
 * $XDG_RUNTIME_DIR, the user's /run/user/UID, /tmp. */
static int candidate_dirs(uid_t uid, char out[3][300])
{
    int n = 0;
    const char *x = getenv("XDG_RUNTIME_DIR");
    if (x && x[0] == '/' && strlen(x) < 250)
        snprintf(out[n++], 300, "%s/peeka", x);
    snprintf(out[n++], 300, "/run/user/%lu/peeka", (unsigned long)uid);
    snprintf(out[n++], 300, "/tmp/peeka-%lu", (unsigned long)uid);
    return n;
}

static int matches(const char *text, pid_t pid, const char *comm, const char *start, installed_agent *ia)
{
    char v[64], sig[16];
    reg_value(text, "pid", v, sizeof v);
    if (atoi(v) != (int)pid)
        return 0;
    reg_value(text, "start", v, sizeof v);
    if (strcmp(v, start))
        return 0;   /* an earlier process with this pid */
    reg_value(text, "comm", v, sizeof v);
    if (strcmp(v, comm))
        return 0;   /* it has exec'd something else since */
    reg_value(text, "signal", sig, sizeof sig);
    ia->sig = atoi(sig);
    reg_value(text, "python", ia->python, sizeof ia->python);
    return ia->sig > 0 && ia->sig < 65;
}

int installed_find(pid_t pid, installed_agent *ia, char *err, size_t errlen)
{
    memset(ia, 0, sizeof *ia);
    char comm[64], start[32];
    if (status_ids(pid, &ia->uid, &ia->gid) < 0 || stat_identity(pid, comm, sizeof comm, start, sizeof start) < 0) {
        snprintf(err, errlen, "no such process %d", (int)pid);
        return 0;
    }
    if (geteuid() != 0 && geteuid() != ia->uid) {
        snprintf(err, errlen, "process %d runs as uid %lu: only that user or root can use its "
                 "pre-installed agent", (int)pid, (unsigned long)ia->uid);
        return 0;
    }
    char dirs[3][300];
    int nd = candidate_dirs(ia->uid, dirs);
    for (int i = 0; i < nd; i++) {
        char path[400], text[REG_MAX];
        snprintf(path, sizeof path, "%.299s/%d.installed", dirs[i], (int)pid);
        if (!private_dir(dirs[i], ia->uid) || read_registration(path, ia->uid, text, sizeof text) < 0)
            continue;
        if (matches(text, pid, comm, start, ia)) {
            snprintf(ia->dir, sizeof ia->dir, "%.299s", dirs[i]);
            return 1;
        }
    }
    snprintf(err, errlen, "process %d has no pre-installed agent (import peeka_agent; "
             "peeka_agent.install(); looked for %d.installed in %.299s%s%.299s and %.299s)",
             (int)pid, (int)pid, dirs[0], nd > 2 ? ", " : "", nd > 2 ? dirs[1] : "", dirs[nd - 1]);
    return 0;
}
