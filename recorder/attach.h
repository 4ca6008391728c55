/* Making a running CPython (3.8 - 3.15, x86_64 Linux) execute a short
 * Python source string, with ptrace and without gdb.  docs/attach.md says
 * how it works, what it touches in the target and what each status means. */
#ifndef PEEKA_ATTACH_H
#define PEEKA_ATTACH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum peeka_attach_status {
    PA_OK = 0,
    PA_NOPROC,      /* no such process */
    PA_NOTPYTHON,   /* no CPython API in it */
    PA_UNSUPPORTED, /* CPython outside the supported range (common/pyversions.h), or not x86_64 */
    PA_PERM,        /* ptrace refused (scope, uid, capability, already traced) */
    PA_STOPPED,     /* the target is stopped (SIGSTOP, Ctrl-Z, a debugger) */
    PA_SECCOMP,     /* a seccomp / LSM policy refused a syscall we need */
    PA_EXITED,      /* the target exited during the attach */
    PA_TIMEOUT,     /* no safe point reached in time; nothing was run */
    PA_FAILED,      /* anything else; err says what */
    PA_DISABLED,    /* the target turned remote debugging off (PEP 768 route) */
    PA_NOROUTE      /* this route cannot be used here; another may (err: why) */
};

#define PEEKA_PATH_MAX 4096

typedef struct peeka_target {
    pid_t pid;
    int major, minor, micro; /* micro is -1 when it cannot be known (< 3.11) */
    int free_threaded;       /* a Py_GIL_DISABLED build (3.13t, 3.14t): refused */
    char exe[PEEKA_PATH_MAX];
    char python_image[PEEKA_PATH_MAX]; /* file holding the symbols, as the target maps it */
    int image_is_exe;                  /* 1: symbols in the executable (static build) */
    uint64_t image_bias;               /* load bias of python_image */
    /* Runtime addresses in the target. */
    uint64_t gilstate_ensure;  /* PyGILState_Ensure */
    uint64_t gilstate_release; /* PyGILState_Release */
    uint64_t run_simple_string; /* PyRun_SimpleString */
    uint64_t add_pending_call; /* Py_AddPendingCall */
    uint64_t start_new_thread; /* PyThread_start_new_thread */
    uint64_t save_thread;      /* PyEval_SaveThread (informational) */
    uint64_t runtime;          /* _PyRuntime */
    uint64_t is_finalizing;    /* Py_IsFinalizing / _Py_IsFinalizing, 0 if absent */
    uint64_t is_initialized;   /* Py_IsInitialized, 0 if absent (launch mode's first frame) */
    uint64_t eval_frame;       /* _PyEval_EvalFrameDefault, 0 if absent (the same) */
    char libc[PEEKA_PATH_MAX];
    uint64_t libc_munmap;      /* munmap() */
    uint64_t syscall_insn;     /* address of a `syscall` instruction (0f 05) */
} peeka_target;

/* Finds the interpreter in pid; fills t.  On failure err gets one line
 * saying what is wrong and what to do. */
int peeka_target_inspect(pid_t pid, peeka_target *t, char *err, size_t errlen);

/* Makes the target run `code` (Python source, executed like
 * PyRun_SimpleString in __main__'s namespace, with the GIL held; exceptions
 * it raises are swallowed, nothing is printed).  Returns PA_OK once it has
 * run; if it is still running in the helper thread at the deadline, PA_OK
 * with a note in err (see docs/attach.md).  Restores every register and
 * byte it touched; leaves no thread stopped.  timeout_ms bounds the whole
 * thing.  Must be called from one thread at a time (ptrace is per thread). */
int peeka_inject_python(const peeka_target *t, const char *code, int timeout_ms, char *err,
                        size_t errlen);

/* A one-word name for a status ("ok", "noproc", ...). */
const char *peeka_attach_status_name(int status);

#endif
