#include "launch.h"
#include "bootstrap.h"
#include "signals.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int write_site(rundir *r, size_t buffer, char *site_dir, size_t n, char *err, size_t errlen)
{
    char lib[4096], agents[4200], path[700];
    if (peeka_libdir(lib, sizeof lib) < 0) {
        snprintf(err, errlen, "cannot find peeka's install directory");
        return -1;
    }
    snprintf(agents, sizeof agents, "%s/agent", lib);
    snprintf(site_dir, n, "%s/site", r->dir);
    if (mkdir(site_dir, 0700) < 0) {
        snprintf(err, errlen, "mkdir %s: %s", site_dir, strerror(errno));
        return -1;
    }
    char *code = bootstrap_sitecustomize(agents, r, buffer);
    int rc = code ? rundir_write(r, "site/sitecustomize.py", code, path, sizeof path) : -1;
    free(code);
    if (rc < 0)
        snprintf(err, errlen, "cannot write the bootstrap in %s", site_dir);
    return rc;
}

/* The child's side: the environment for the route, default SIGPIPE (ours
 * is ignored, and an ignored signal survives exec), then, when traced,
 * the parent's word that it is; exec failures go back through errfd. */
static void child_exec(char **argv, const char *pp, const char *old, int gofd, int errfd)
{
    if (pp) {
        if (old) setenv("PEEKA_SAVED_PYTHONPATH", old, 1);
        setenv("PYTHONPATH", pp, 1);
    }
    signal(SIGPIPE, SIG_DFL);
    if (gofd >= 0) {
        char go;
        while (read(gofd, &go, 1) < 0 && errno == EINTR)
            ;
        close(gofd);
    }
    execvp(argv[0], argv);
    int e = errno;
    if (write(errfd, &e, sizeof e) < 0) { /* parent sees EOF: nothing to add */ }
    _exit(127);
}

/* PYTHONPATH with the site directory first; NULL with err. */
static char *site_path(rundir *r, size_t buffer, const char *old, char *err, size_t errlen)
{
    char site[600];
    if (write_site(r, buffer, site, sizeof site, err, errlen) < 0)
        return NULL;
    size_t n = strlen(site) + (old ? strlen(old) : 0) + 2;
    char *pp = malloc(n);
    if (!pp)
        snprintf(err, errlen, "out of memory");
    else
        snprintf(pp, n, old && *old ? "%s:%s" : "%s", site, old);
    return pp;
}

static void close_pair(int p[2])
{
    if (p[0] >= 0) close(p[0]);
    if (p[1] >= 0) close(p[1]);
    p[0] = p[1] = -1;
}

/* The parent's side after fork: trace the child if asked, let it exec,
 * and learn whether the exec worked.  0, or -1 with err. */
static int parent_start(pid_t pid, launch_route route, ltrace *L, int go[2], int errpipe[2],
                        char *why, size_t whylen, char *err, size_t errlen, char *const argv[])
{
    close(errpipe[1]);
    errpipe[1] = -1;
    if (route == LAUNCH_TRACE) {
        close(go[0]);
        go[0] = -1;
        if (ltrace_seize(L, pid, why, whylen) < 0)
            L->pid = 0;
        if (write(go[1], "g", 1) != 1) {
            snprintf(err, errlen, "cannot start the program: %s", strerror(errno));
            return -1;
        }
    }
    int e = 0;
    ssize_t got;
    while ((got = read(errpipe[0], &e, sizeof e)) < 0 && errno == EINTR)
        ;
    if (got == (ssize_t)sizeof e) {
        snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(e));
        return -1;
    }
    return 0;
}

pid_t launch_program(char **argv, rundir *r, size_t buffer, launch_route route, ltrace *L,
                     char *why, size_t whylen, char *err, size_t errlen)
{
    const char *old = getenv("PYTHONPATH");
    char *pp = NULL;
    if (route == LAUNCH_SITE && !(pp = site_path(r, buffer, old, err, errlen)))
        return -1;
    int errpipe[2] = {-1, -1}, go[2] = {-1, -1};
    if (pipe2(errpipe, O_CLOEXEC) < 0 || (route == LAUNCH_TRACE && pipe2(go, O_CLOEXEC) < 0)) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        close_pair(errpipe);
        free(pp);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(errpipe[0]);
        if (go[1] >= 0) close(go[1]);
        child_exec(argv, pp, old, go[0], errpipe[1]);
    }
    free(pp);
    int rc = -1;
    if (pid < 0)
        snprintf(err, errlen, "fork: %s", strerror(errno));
    else
        rc = parent_start(pid, route, L, go, errpipe, why, whylen, err, errlen, argv);
    close_pair(errpipe);
    close_pair(go);
    if (rc < 0 && pid > 0) {
        int st;
        kill(pid, SIGKILL);   /* only when it could not exec: nothing of it ran */
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        L->pid = 0;
    }
    return rc < 0 ? -1 : pid;
}

void launch_cleanup(rundir *r)
{
    char p[400];
    snprintf(p, sizeof p, "%s/site/sitecustomize.py", r->dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/site", r->dir);
    rmdir(p);
}

int launch_reap(pid_t child, int *status, int block)
{
    siginfo_t si;
    for (;;) {
        si.si_pid = 0;
        if (waitid(P_PID, (id_t)child, &si, WEXITED | WNOWAIT | (block ? 0 : WNOHANG)) == 0)
            break;
        if (errno != EINTR)
            return -1;
    }
    if (si.si_pid != child)
        return 0;
    signals_forward_to(0);
    while (waitpid(child, status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return 1;
}

int launch_exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 1;
}
