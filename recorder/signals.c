#include "signals.h"
#include "recording.h"

#include <errno.h>
#include <unistd.h>

static volatile sig_atomic_t g_forward_pid;
static volatile sig_atomic_t g_keep_hup;
volatile sig_atomic_t g_flush_signal;

/* A signal the terminal sent (Ctrl-C, Ctrl-\, a hangup) went to its whole
 * foreground process group, the program included, unless the program has
 * left our group: passing it on would deliver it twice. */
static int program_has_it(int sig, const siginfo_t *si, pid_t child)
{
    (void)sig;
    return si && si->si_code == SI_KERNEL && getpgid(child) == getpgrp();
}

void signals_take(int sig, const siginfo_t *si)
{
    int saved = errno;
    pid_t child = (pid_t)g_forward_pid;
    if (sig == SIGHUP && g_keep_hup)
        ;   /* a detached session's holder outlives hangups */
    else if (child <= 0)
        g_stop_signal = sig;
    else if (!program_has_it(sig, si, child))
        kill(child, sig);
    errno = saved;
}

static void on_signal(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    signals_take(sig, si);
}

static void on_flush(int sig)
{
    (void)sig;
    g_flush_signal = 1;
}

void signals_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
}

int signals_install(void)
{
    struct sigaction sa = {0};
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO;   /* no SA_RESTART: poll() and waitid() must return */
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0 ||
        sigaction(SIGHUP, &sa, NULL) < 0)
        return -1;
    struct sigaction fl = {0};
    fl.sa_handler = on_flush;
    fl.sa_flags = SA_RESTART;   /* only a flag: nothing needs to be woken */
    sigemptyset(&fl.sa_mask);
    if (sigaction(SIGUSR1, &fl, NULL) < 0)
        return -1;
    return signal(SIGPIPE, SIG_IGN) == SIG_ERR ? -1 : 0;
}

void signals_keep_hup(void)
{
    g_keep_hup = 1;
}

void signals_forward_to(pid_t child)
{
    sigset_t set, old;
    signals_set(&set);
    sigprocmask(SIG_BLOCK, &set, &old);   /* g_stop_signal and the pid change together */
    g_forward_pid = child;
    int early = g_stop_signal;
    if (child > 0 && early) {
        g_stop_signal = 0;
        kill(child, early);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
}
