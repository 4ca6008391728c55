/* peeka-rec's signals.  In attach mode SIGINT, SIGTERM and SIGHUP end the
 * recording (g_stop_signal).  In launch mode they are the program's: they
 * are passed on to it, as `timeout` and container inits do, and the
 * recording ends when the program exits.  SIGPIPE is ignored: a reader of
 * stdout that goes away is an error result, handled where we write.
 * SIGUSR1 asks for a flush (g_flush_signal). */
#ifndef PEEKA_SIGNALS_H
#define PEEKA_SIGNALS_H

#include <signal.h>
#include <sys/types.h>

int  signals_install(void);
/* Launch mode: from now on, signals go to `child` (0: to nobody, it is
 * about to be reaped).  One that came before the child existed is passed
 * on now. */
void signals_forward_to(pid_t child);
/* What the handler does with sig; also for callers that took it with
 * sigtimedwait (launch_trace.c).  Async-signal-safe. */
void signals_take(int sig, const siginfo_t *si);
/* The signals above, for sigprocmask and sigtimedwait. */
void signals_set(sigset_t *set);
/* A detached session's holder: SIGHUP is ignored from now on (its handler
 * stays, so a launched program still gets the default across exec). */
void signals_keep_hup(void);
/* SIGUSR1 sets it: flush the archive now (--ring: write a snapshot). */
extern volatile sig_atomic_t g_flush_signal;

#endif
