/* gdb as an injector: slower (hundreds of ms) and needs gdb, but a second
 * route when native injection is refused or a platform differs.  The code
 * is passed as a file path, so nothing needs quoting for gdb's parser. */
#include "inject_gdb.h"
#include "attach.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *find_gdb(void)
{
    static const char *const dirs[] = {"/usr/bin/gdb", "/usr/local/bin/gdb", "/bin/gdb"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++)
        if (access(dirs[i], X_OK) == 0)
            return dirs[i];
    return NULL;
}

static int wait_bounded(pid_t child, int timeout_ms, int *status)
{
    struct timespec step = {0, 5000000};
    for (int waited = 0; waited <= timeout_ms; waited += 5) {
        pid_t r = waitpid(child, status, WNOHANG);
        if (r == child)
            return 0;
        if (r < 0 && errno != EINTR)
            return -1;
        nanosleep(&step, NULL);
    }
    kill(child, SIGKILL);
    waitpid(child, status, 0);
    return -1;
}

int peeka_inject_gdb(pid_t pid, const char *script, int timeout_ms, char *err, size_t errlen)
{
    const char *gdb = find_gdb();
    if (!gdb) {
        snprintf(err, errlen, "--via gdb needs gdb (apt-get install gdb); the default native attach does not");
        return PA_FAILED;
    }
    if (strchr(script, '\'') || strchr(script, '"') || strchr(script, '\\')) {
        snprintf(err, errlen, "bootstrap path %s cannot be passed to gdb", script);
        return PA_FAILED;
    }
    char pids[24], run[4300];
    snprintf(pids, sizeof pids, "%d", (int)pid);
    snprintf(run, sizeof run, "call (int)PyRun_SimpleString(\"exec(open('%s').read())\")", script);
    /* debuginfod would try the network for every library: minutes offline */
    char *argv[] = {(char *)gdb, "-nx", "-batch", "-iex", "set debuginfod enabled off", "-p", pids,
                    "-ex", "set confirm off", "-ex", "set pagination off",
                    "-ex", "call (int)PyGILState_Ensure()", "-ex", run,
                    "-ex", "call (void)PyGILState_Release($1)", NULL};
    pid_t child = fork();
    if (child < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        return PA_FAILED;
    }
    if (child == 0) {
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        execv(gdb, argv);
        _exit(127);
    }
    int status = 0;
    if (wait_bounded(child, timeout_ms, &status) < 0) {
        snprintf(err, errlen, "gdb did not finish injecting into %d within %d ms", (int)pid, timeout_ms);
        return PA_TIMEOUT;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(err, errlen, "gdb could not inject into %d (exit %d); try the native attach",
                 (int)pid, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return PA_FAILED;
    }
    return PA_OK;
}
