/* Attach mode's way in: find CPython in a running process and make it run
 * the bootstrap that loads the agent (PEP 768 on 3.14+, ptrace, or gdb
 * with --via gdb).
 * Launch mode uses it too, as a last resort, on its own child. */
#ifndef PEEKA_ATTACH_TARGET_H
#define PEEKA_ATTACH_TARGET_H

#include <stddef.h>
#include <sys/types.h>
#include "attach.h"
#include "options.h"
#include "recording.h"
#include "rundir.h"

/* A peeka_attach_status as peeka-rec's exit code (exitcodes.h). */
int attach_status_to_exit(int status);
/* Loads the agent into pid; `prefix` is Python code run first (or NULL).
 * EX_OK_REC once the bootstrap ran, else the EX_* code and err; ai gets
 * the route taken (and why the preferred one was not). */
int attach_target(pid_t pid, const rec_options *o, rundir *rd, const char *prefix,
                  attach_info *ai, char *err, size_t errlen);

/* Makes pid run `code` (any Python source, e.g. peeka-rec --uninstall's)
 * by the same routes; EX_OK_REC once it ran. */
int attach_run_code(pid_t pid, const rec_options *o, rundir *rd, const char *code,
                    attach_info *ai, char *err, size_t errlen);

/* After EX_TIMEOUT for pid (the last target attach_target or
 * attach_run_code prepared): appends to err why nothing ran when it can be
 * told from outside, i.e. on 3.8+ one thread held the GIL from the start
 * of the attach to now. */
void attach_explain_timeout(pid_t pid, char *err, size_t errlen);

/* How long the attach of t may take in all, agent connected: --timeout,
 * or the thread probe's --wait for a one-shot dump that can be read from
 * outside instead (3.8+, o->outside_wait_s). */
int attach_timeout_ms(const rec_options *o, const peeka_target *t);

/* The interpreter found in pid by the last attach_target or
 * attach_run_code, or NULL when that was another process or failed. */
const peeka_target *attach_inspected(pid_t pid);

/* 1 when thread tid of pid appeared since that attach began (the ptrace
 * route's helper thread, still waiting for the GIL), 0 otherwise or when
 * the threads then are not known. */
int attach_thread_is_ours(pid_t pid, pid_t tid);

#endif
