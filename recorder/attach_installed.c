/* The installed route: no ptrace, no injection.  peeka-rec writes a
 * rendezvous into the target user's private directory (where only that
 * user, or root, can write) and sends the registered signal; the agent's
 * handler reads and deletes it, then connects to our socket as after any
 * attach (docs/attach.md "The installed route"). */
#include "installed_agent.h"
#include "attach_target.h"
#include "exitcodes.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The rendezvous written last, until the agent took it or we took it
 * back: its name inside the directory held open as dir_fd. */
static int dir_fd = -1;
static char pending_name[64];
static int pending_sig;

/* D itself, opened without following a symlink and checked once more
 * through the descriptor: every later step is relative to it, so a user
 * swapping D for a link meanwhile cannot make a root peeka-rec write
 * elsewhere. */
static int open_private_dir(const installed_agent *ia)
{
    int fd = open(ia->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) < 0 || st.st_uid != ia->uid || (st.st_mode & 077))) {
        close(fd);
        errno = EPERM;
        return -1;
    }
    return fd;
}

/* name.tmp then a rename: the handler never reads half a file. */
static int write_rendezvous(int dfd, const char *name, const char *text, const installed_agent *ia)
{
    char tmp[80];
    snprintf(tmp, sizeof tmp, "%s.tmp", name);
    (void)unlinkat(dfd, tmp, 0);   /* a peeka-rec killed mid-way left it */
    int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    size_t n = strlen(text);
    int ok = write(fd, text, n) == (ssize_t)n;
    if (ok && geteuid() != ia->uid)
        ok = fchown(fd, ia->uid, ia->gid) == 0;   /* root for another user: the agent wants its own */
    if (close(fd) < 0)
        ok = 0;
    if (!ok || renameat(dfd, tmp, dfd, name) < 0) {
        int e = errno;
        (void)unlinkat(dfd, tmp, 0);
        errno = e;
        return -1;
    }
    return 0;
}

int installed_request(pid_t pid, const installed_agent *ia, rundir *rd, const char *action,
                      char *err, size_t errlen)
{
    if (rundir_give_to(rd, ia->uid, ia->gid, err, errlen) < 0)
        return EX_ATTACH;
    char text[1200];
    if (!strcmp(action, "record"))
        snprintf(text, sizeof text, "action=record\nsocket=%s\ntoken=%s\n", rd->sock, rd->token);
    else
        snprintf(text, sizeof text, "action=uninstall\nreport=%s/uninstall-report\ntoken=%s\n",
                 rd->dir, rd->token);
    installed_withdraw(0, err, errlen);   /* an earlier request of ours, unanswered */
    snprintf(pending_name, sizeof pending_name, "%d.rendezvous", (int)pid);
    if ((dir_fd = open_private_dir(ia)) < 0 || write_rendezvous(dir_fd, pending_name, text, ia) < 0) {
        snprintf(err, errlen, "cannot write the rendezvous %s/%s: %s", ia->dir, pending_name, strerror(errno));
        installed_withdraw(0, err, 0);
        return EX_ATTACH;
    }
    pending_sig = ia->sig;
    if (kill(pid, ia->sig) < 0) {
        int e = errno;
        installed_withdraw(0, err, errlen);
        snprintf(err, errlen, "cannot signal process %d: %s", (int)pid, strerror(e));
        return e == ESRCH ? EX_NOPROC : EX_PERM;
    }
    return EX_OK_REC;
}

void installed_withdraw(int rc, char *err, size_t errlen)
{
    if (dir_fd < 0)
        return;
    int unanswered = pending_name[0] && unlinkat(dir_fd, pending_name, 0) == 0;
    close(dir_fd);
    dir_fd = -1;
    pending_name[0] = 0;
    if (unanswered && rc == EX_TIMEOUT && errlen) {
        size_t k = strlen(err);
        snprintf(err + k, errlen - k, "; the pre-installed agent never read its rendezvous: its %s "
                 "handler runs on the main thread between bytecodes (is that thread blocked in C "
                 "code, or did the program replace the handler?)", strsignal(pending_sig));
    }
}

int attach_any(pid_t pid, const rec_options *o, rundir *rd, attach_info *ai, char *err, size_t errlen)
{
    installed_agent ia;
    int found = strcmp(o->via, "auto") && !o->attach_installed ? 0 : installed_find(pid, &ia, err, errlen);
    if (found) {
        ai->route = "installed";
        return installed_request(pid, &ia, rd, "record", err, errlen);
    }
    if (o->attach_installed)
        return EX_NOT_INSTALLED;
    err[0] = 0;
    return attach_target(pid, o, rd, NULL, ai, err, errlen);
}
