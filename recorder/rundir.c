#include "rundir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* $XDG_RUNTIME_DIR when it is ours and private, else /tmp.  mkdtemp makes
 * the directory 0700 with a random name; we check the owner anyway in case
 * the base is shared and hostile. */
const char *rundir_base(void)
{
    const char *x = getenv("XDG_RUNTIME_DIR");
    struct stat st;
    if (x && x[0] == '/' && strlen(x) < 180 && stat(x, &st) == 0 && S_ISDIR(st.st_mode) &&
        st.st_uid == getuid() && (st.st_mode & 077) == 0)
        return x;
    return "/tmp";
}

static int make_token(char out[65], char *err, size_t errlen)
{
    unsigned char raw[32];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            snprintf(err, errlen, "getrandom: %s", strerror(errno));
            return -1;
        }
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

int rundir_create(rundir *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->listen_fd = -1;
    snprintf(r->dir, sizeof r->dir, "%s/peeka-XXXXXX", rundir_base());
    if (!mkdtemp(r->dir)) {
        snprintf(err, errlen, "cannot create a private directory in %s: %s", rundir_base(), strerror(errno));
        r->dir[0] = 0;
        return -1;
    }
    struct stat st;
    if (lstat(r->dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
        snprintf(err, errlen, "private directory %s has the wrong owner or mode", r->dir);
        return -1;
    }
    if (make_token(r->token, err, errlen) < 0)
        return -1;
    snprintf(r->sock, sizeof r->sock, "%s/agent.sock", r->dir);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(r->sock) >= sizeof sa.sun_path) {
        snprintf(err, errlen, "socket path too long: %s", r->sock);
        return -1;
    }
    strcpy(sa.sun_path, r->sock);
    r->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (r->listen_fd < 0 || bind(r->listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(r->listen_fd, 4) < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", r->sock, strerror(errno));
        return -1;
    }
    return 0;
}

int rundir_give_to(rundir *r, uid_t uid, gid_t gid, char *err, size_t errlen)
{
    if (uid == geteuid())
        return 0;
    if (chown(r->dir, uid, gid) < 0 || chown(r->sock, uid, gid) < 0) {
        snprintf(err, errlen, "cannot hand %s to uid %d: %s", r->dir, (int)uid, strerror(errno));
        return -1;
    }
    r->given = 1;
    r->uid = uid;
    r->gid = gid;
    return 0;
}

int rundir_write(rundir *r, const char *name, const char *text, char *path_out, size_t pathlen)
{
    snprintf(path_out, pathlen, "%s/%s", r->dir, name);
    int fd = open(path_out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    size_t n = strlen(text);
    ssize_t w = write(fd, text, n);
    int own = r->given ? fchown(fd, r->uid, r->gid) : 0;
    int rc = close(fd);
    if (own < 0)
        return -1;
    return w == (ssize_t)n && rc == 0 ? 0 : -1;
}

/* Everything in it is ours: the socket, the bootstrap, nothing nested
 * deeper than one subdirectory. */
static void remove_tree(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (e->d_type == DT_DIR && depth < 2)
            remove_tree(p, depth + 1);
        else if (unlink(p) < 0 && errno != ENOENT)
            continue;
    }
    closedir(d);
    rmdir(dir);
}

void rundir_remove(rundir *r)
{
    if (r->listen_fd >= 0) {
        close(r->listen_fd);
        r->listen_fd = -1;
    }
    if (r->dir[0])
        remove_tree(r->dir, 0);
    r->dir[0] = 0;
}

int token_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned diff = (unsigned)(la ^ lb);
    for (size_t i = 0; i < la && i < lb; i++)
        diff |= (unsigned)(a[i] ^ b[i]);
    return diff == 0;
}
