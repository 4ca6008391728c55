/* Finding scripts: the built-in directory, names versus paths, -l and -i. */
#ifndef PA_SCRIPTS_H
#define PA_SCRIPTS_H

#include <stddef.h>

/* The directory of the built-in scripts ($PEEKA_SCRIPT_DIR, the source
 * tree next to a build directory, or PREFIX/share/peeka/scripts). */
const char *pa_script_dir(void);

/* Path of built-in script name into buf; 0 when it exists, else -1. */
int pa_builtin_path(const char *name, char *buf, size_t len);

/* -l: one line per built-in script.  Returns an exit code. */
int pa_list_scripts(void);
/* -i NAME: description, usage and arguments.  Returns an exit code. */
int pa_describe_script(const char *name_or_path);

/* Comma-separated built-in names, for messages. */
void pa_builtin_names(char *buf, size_t len);

#endif
