#include "launch.h"
#include "bootstrap.h"

#include <errno.h>
#include <fcntl.h>
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

pid_t launch_program(char **argv, rundir *r, size_t buffer, char *err, size_t errlen)
{
    char site[600];
    if (write_site(r, buffer, site, sizeof site, err, errlen) < 0)
        return -1;
    const char *old = getenv("PYTHONPATH");
    size_t n = strlen(site) + (old ? strlen(old) : 0) + 2;
    char *pp = malloc(n);
    if (!pp) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(pp, n, old && *old ? "%s:%s" : "%s", site, old);
    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        free(pp);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        free(pp);
        close(errpipe[0]); close(errpipe[1]);
        return -1;
    }
    if (pid == 0) {
        close(errpipe[0]);
        if (old) setenv("PEEKA_SAVED_PYTHONPATH", old, 1);
        setenv("PYTHONPATH", pp, 1);
        execvp(argv[0], argv);
        int e = errno;
        if (write(errpipe[1], &e, sizeof e) < 0) { /* parent sees EOF: nothing to add */ }
        _exit(127);
    }
    free(pp);
    close(errpipe[1]);
    int e = 0;
    ssize_t got = read(errpipe[0], &e, sizeof e);
    close(errpipe[0]);
    if (got == (ssize_t)sizeof e) {
        snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(e));
        waitpid(pid, NULL, 0);
        return -1;
    }
    return pid;
}

void launch_cleanup(rundir *r)
{
    char p[400];
    snprintf(p, sizeof p, "%s/site/sitecustomize.py", r->dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/site", r->dir);
    rmdir(p);
}

int launch_exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 1;
}
