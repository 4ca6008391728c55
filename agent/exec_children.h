/* --follow-forks: multiprocessing's exec'd children wait to be recorded,
 * and 3.8's pool workers flush before os._exit (exec_children.c). */
#ifndef PEEKA_EXEC_CHILDREN_H
#define PEEKA_EXEC_CHILDREN_H

#include "agent.h"

/* GIL held, at the install of a session that follows forks: wraps
 * multiprocessing.util.spawnv_passfds now, or when it is imported.  -1
 * (exception cleared) when that cannot be arranged. */
int  exec_children_watch(void);
/* pending.c's import hook: a module has been imported; GIL held. */
void exec_children_module_loaded(PyObject *name);
/* 3.8, in a followed forked child, GIL held: the session ends after
 * multiprocessing.util._exit_function. */
void exec_children_flush_at_exit_function(void);
/* peeka-rec's "child_recorded": a caller waiting for pid goes on.  Any thread. */
void exec_children_released(int pid);
/* The session ends (GIL held): no caller waits any more, the wrappers go. */
void exec_children_end(void);
/* fork()'s child handler: no Python, no malloc. */
void exec_children_fork_child(void);

#endif
