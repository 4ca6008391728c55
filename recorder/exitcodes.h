/* peeka-rec's exit codes; the README's table is generated from this list's
 * comments, so keep them one per line. */
#ifndef PEEKA_EXITCODES_H
#define PEEKA_EXITCODES_H

enum {
    EX_OK_REC = 0,          /* recorded until the limit; archive complete */
    EX_INTERNAL = 1,        /* a bug or an unexpected system failure */
    EX_USAGE_REC = 2,       /* bad command line */
    EX_PROBE = 3,           /* a probe could not be installed (pattern, condition) */
    EX_TARGET_EXITED = 4,   /* the target exited before the limit; archive complete */
    EX_WRITE = 5,           /* output not writable, or disk full; .partial kept */
    EX_AGENT_LOST = 6,      /* the agent went away mid-recording; archive complete */
    EX_PROTOCOL = 7,        /* the agent sent a malformed message; archive complete up to it */
    EX_NOPROC = 10,         /* no such process */
    EX_NOTPYTHON = 11,      /* not a CPython process, or an unsupported version */
    EX_NOAGENT = 12,        /* no agent build for the target's Python */
    EX_PERM = 13,           /* ptrace not permitted, or the target turned remote debugging off */
    EX_STOPPED = 14,        /* target is stopped (state T) */
    EX_SECCOMP = 15,        /* seccomp or an LSM refused the injection */
    EX_EXITED = 16,         /* target exited while attaching */
    EX_TIMEOUT = 17,        /* the agent did not connect back in time */
    EX_BUSY = 18,           /* the target is already being recorded */
    EX_ATTACH = 19,         /* attaching failed otherwise */
    EX_NO_SESSION = 20,     /* --attach: no detached session has that key (--is-detached says 2) */
    EX_SESSION_EXISTS = 21, /* --detach: a detached session with that key is running */
    EX_SESSION_REFUSED = 22, /* the session belongs to another user, or its directory is not private */
    EX_NOT_INSTALLED = 23   /* --attach-installed: the process has no pre-installed agent usable by this user */
};

#endif
