#include "session_dir.h"
#include "rundir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int sdir_key_ok(const char *key, char *err, size_t errlen)
{
    size_t n = strlen(key);
    int ok = n >= 1 && n <= SDIR_KEY_MAX && key[0] != '.';
    for (size_t i = 0; ok && i < n; i++) {
        char c = key[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == '-';
    }
    if (!ok)
        snprintf(err, errlen, "session key '%.80s': use 1 to %d letters, digits, '.', '_' or '-' "
                 "(not starting with '.')", key, SDIR_KEY_MAX);
    return ok ? 0 : -1;
}

/* The base is private when it is $XDG_RUNTIME_DIR; /tmp is shared, so
 * there the directory's name carries the uid and its owner is checked. */
static void dir_name(char *out, size_t n)
{
    const char *base = rundir_base();
    if (strcmp(base, "/tmp"))
        snprintf(out, n, "%s/peeka", base);
    else
        snprintf(out, n, "/tmp/peeka-sessions-%u", (unsigned)geteuid());
}

int sdir_open(sdir_paths *p, const char *key, int create, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    dir_name(p->dir, sizeof p->dir);
    if (key) {
        if (sdir_key_ok(key, err, errlen) < 0)
            return -1;
        snprintf(p->key, sizeof p->key, "%s", key);
        snprintf(p->lock, sizeof p->lock, "%s/%s.lock", p->dir, key);
        snprintf(p->sock, sizeof p->sock, "%s/%s.sock", p->dir, key);
    }
    if (create && mkdir(p->dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create the session directory %s: %s", p->dir, strerror(errno));
        return -1;
    }
    struct stat st;
    if (lstat(p->dir, &st) < 0) {
        if (errno == ENOENT && !create)
            return 1;
        snprintf(err, errlen, "session directory %s: %s", p->dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
        snprintf(err, errlen, "session directory %s is not private (%s, owner uid %u, mode %04o; "
                 "it must be a directory of uid %u, mode 0700): refusing to use it", p->dir,
                 S_ISDIR(st.st_mode) ? "a directory" : "not a directory", (unsigned)st.st_uid,
                 (unsigned)(st.st_mode & 07777), (unsigned)geteuid());
        return -2;
    }
    return 0;
}

/* An flock held on the file that is still at the lock's path: a lock
 * taken on a file that a cleaner unlinked meanwhile protects nothing. */
static int lock_current(const char *path, int fd)
{
    struct stat a, b;
    return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

int sdir_claim(const sdir_paths *p, char *err, size_t errlen)
{
    for (int tries = 0; tries < 5; tries++) {
        int fd = open(p->lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            snprintf(err, errlen, "cannot create %s: %s", p->lock, strerror(errno));
            return -1;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
            int e = errno;
            close(fd);
            if (e == EWOULDBLOCK)
                return -2;
            snprintf(err, errlen, "cannot lock %s: %s", p->lock, strerror(e));
            return -1;
        }
        if (lock_current(p->lock, fd)) {
            if (unlink(p->sock) < 0 && errno != ENOENT) {   /* a dead holder's */
                snprintf(err, errlen, "cannot remove the stale %s: %s", p->sock, strerror(errno));
                close(fd);
                return -1;
            }
            return fd;
        }
        close(fd);   /* lost a race with a cleaner: try the new file */
    }
    snprintf(err, errlen, "cannot take the session lock %s (it keeps changing)", p->lock);
    return -1;
}

int sdir_alive(const sdir_paths *p, char *err, size_t errlen)
{
    int fd = open(p->lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "cannot open %s: %s", p->lock, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return 1;
        snprintf(err, errlen, "cannot lock %s: %s", p->lock, strerror(e));
        return -1;
    }
    /* nobody holds it: the holder died without cleaning up */
    if (lock_current(p->lock, fd)) {
        unlink(p->sock);
        unlink(p->lock);
    }
    close(fd);
    return 0;
}

void sdir_release(const sdir_paths *p, int lockfd)
{
    if (lockfd < 0)
        return;
    unlink(p->sock);
    unlink(p->lock);
    close(lockfd);
}
