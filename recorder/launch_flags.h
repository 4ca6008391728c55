/* Launch mode: will the launched Python import the sitecustomize that
 * peeka-rec puts on PYTHONPATH?  Not with -I, -S or -E (isolated mode, no
 * site module, environment ignored), given on the command line or in the
 * #! line of a script run directly.  Then launch_trace.c is used instead. */
#ifndef PEEKA_LAUNCH_FLAGS_H
#define PEEKA_LAUNCH_FLAGS_H

#include <stddef.h>

/* 1 when argv (a Python interpreter and its arguments) carries -I, -S or
 * -E before what it runs; `flag` gets the first one found ("-I").  0 when
 * it does not, or when argv[0] is not named python*. */
int launch_flags_skip_site(char *const argv[], char *flag, size_t flaglen);

/* The same for a #! line ("#!/usr/bin/python3 -I", "#!/usr/bin/env -S
 * python3 -E"): 1 and the flag, else 0. */
int launch_shebang_skips_site(const char *line, char *flag, size_t flaglen);

/* The command as exec will run it: argv[0], or the #! line of the script
 * it names (searched on PATH like execvp).  1 and the flag, else 0. */
int launch_skips_site(char *const argv[], char *flag, size_t flaglen);

#endif
