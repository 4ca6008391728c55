/* --via gdb: the fallback injection, where gdb is installed. */
#ifndef PEEKA_INJECT_GDB_H
#define PEEKA_INJECT_GDB_H

#include <stddef.h>
#include <sys/types.h>

/* Runs the Python file `script` in pid through gdb (PyGILState_Ensure,
 * PyRun_SimpleString, PyGILState_Release), within timeout_ms.  Returns a
 * peeka_attach_status. */
int peeka_inject_gdb(pid_t pid, const char *script, int timeout_ms, char *err, size_t errlen);

#endif
