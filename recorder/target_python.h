/* Finding the CPython interpreter inside another process: which file holds
 * its symbols (the executable or libpython3.X.so), where it is loaded, and
 * which version it is.  Implements peeka_target_inspect() of attach.h. */
#ifndef PEEKA_TARGET_PYTHON_H
#define PEEKA_TARGET_PYTHON_H

#include "attach.h"
#include "elf_symbols.h"
#include "proc_maps.h"

/* Opens a file mapped by pid as the target sees it: through
 * /proc/PID/root (other mount namespaces), or /proc/PID/map_files when the
 * file was deleted or replaced since it was mapped.  0 or -1 with err. */
int pk_image_open(pid_t pid, const pk_map *m, pk_elf *e, char *err, size_t errlen);

/* Version from a file name such as "libpython3.11.so.1.0" or "python3.8";
 * 0 and major/minor, or -1. */
int pk_version_from_name(const char *path, int *major, int *minor);

#endif
