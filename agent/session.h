/* The agent's connection to peeka-rec and its one native thread. */
#ifndef PEEKA_SESSION_H
#define PEEKA_SESSION_H

#include "agent.h"

typedef struct {
    const char *socket_path;
    const char *token;
    size_t buffer_bytes;
    int wait_ready_ms;      /* >0: block the caller until the recorder says "ready" */
} session_opts;

/* Connects, says hello, starts the thread.  Raises a Python exception and
 * returns -1 on failure (the bootstrap swallows it: never to stderr). */
int  session_start(const session_opts *o);
int  session_active(void);
/* The session's WELCOME asked to follow forks (--follow-forks). */
int  session_follows(void);
/* The interpreter is shutting down (atexit): detach now, flush, join. */
void session_shutdown(void);
/* observe_quiesce's wait, GIL released: on the agent thread under
 * --lossless, drains the ring so that hooks waiting for room can leave. */
void session_quiesce_tick(void);
/* os.register_at_fork(after_in_child=…), GIL held: a child forked during a
 * session undoes and forgets it; nothing otherwise. */
void session_after_fork(void);
/* peeka-rec --uninstall (purge.c), GIL held: ends an open session now and
 * joins its thread; 1 when there was one. */
int  session_end_now(void);

/* purge.c: what a session could not free because a hook stayed inside the
 * observation guard, kept for peeka-rec --uninstall. */
void leftover_ring_keep(ring *rb);
int  leftover_rings_free(void);
/* Everything peeka-rec --uninstall removes, as a list of str saying what
 * was there (empty: nothing); GIL held. */
PyObject *agent_purge(void);

/* commands.c: one request from the recorder; the reply is JSON text the
 * caller frees.  Runs on the agent thread with the GIL held. */
char *commands_handle(const char *json, size_t len, int *detach, int *ready);
int   commands_need_gil(const char *json, size_t len);
char *commands_stats_json(const char *extra_key, const char *extra_val);
/* Unhooks and frees every probe once no hook holds one; 0 when a hook
 * stayed inside the observation guard too long (then nothing is freed). */
int   commands_free_probes(void);
/* In a forked child with no hook inside the guard: frees the probes a
 * retire was waiting for when the process forked. */
void  commands_after_fork(void);
/* Frees the probes earlier retires had to leave allocated, once no hook is
 * inside the guard; how many (0 also when one still is). */
int   commands_free_leftovers(void);

/* pending.c: the import hook that installs probes on modules imported later. */
int  pending_install(void);
void pending_remove(void);
int  pending_wanted(void);
/* `module` (in sys.modules) is still being imported: notify when it is done. */
void pending_await_import(PyObject *module);

#endif
