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

/* The rendezvous written last, until the agent took it or we took it back. */
static char pending_path[400];
static int pending_sig;

/* path.tmp then rename: the handler never reads half a file. */
static int write_rendezvous(const char *path, const char *text, const installed_agent *ia)
{
    char tmp[420];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    (void)unlink(tmp);   /* a peeka-rec killed mid-way left it */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    size_t n = strlen(text);
    int ok = write(fd, text, n) == (ssize_t)n;
    if (ok && geteuid() != ia->uid)
        ok = fchown(fd, ia->uid, ia->gid) == 0;   /* root for another user: the agent wants its own */
    if (close(fd) < 0)
        ok = 0;
    if (!ok || rename(tmp, path) < 0) {
        int e = errno;
        (void)unlink(tmp);
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
    snprintf(pending_path, sizeof pending_path, "%s/%d.rendezvous", ia->dir, (int)pid);
    if (write_rendezvous(pending_path, text, ia) < 0) {
        snprintf(err, errlen, "cannot write the rendezvous %s: %s", pending_path, strerror(errno));
        pending_path[0] = 0;
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
    if (!pending_path[0])
        return;
    int unanswered = unlink(pending_path) == 0;
    pending_path[0] = 0;
    if (unanswered && rc == EX_TIMEOUT) {
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
