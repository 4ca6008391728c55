/* The command lines that talk to a detached session instead of recording:
 *   peeka-rec --attach=KEY [--stop]
 *   peeka-rec --is-detached=KEY          (also --is_detached)
 *   peeka-rec --list-sessions [--json]
 * As in Perfetto, nothing else is accepted with them. */
#include "options.h"
#include "session_dir.h"

#include <stdio.h>
#include <string.h>

static int session_word(const char *a)
{
    static const char *const words[] = {"--attach", "--is-detached", "--is_detached",
                                        "--list-sessions", NULL};
    for (int k = 0; words[k]; k++) {
        size_t n = strlen(words[k]);
        if (!strncmp(a, words[k], n) && (a[n] == 0 || a[n] == '='))
            return 1;
    }
    return 0;
}

/* One word of such a command line; 0 ok, -1 refused. */
static int session_arg(int argc, char **argv, int *i, rec_options *o, int *stop, char *err,
                       size_t errlen)
{
    const char *v = NULL, *a = argv[*i];
    int m;
    if ((m = option_value(argc, argv, i, "--attach", &v, err, errlen)) ||
        (m = option_value(argc, argv, i, "--is-detached", &v, err, errlen)) ||
        (m = option_value(argc, argv, i, "--is_detached", &v, err, errlen))) {
        if (m < 0)
            return -1;
        if (o->session_cmd) {
            snprintf(err, errlen, "%s: one session command at a time", a);
            return -1;
        }
        o->session_cmd = a[2] == 'a' ? SESSION_ATTACH : SESSION_IS_DETACHED;
        o->session_key = v;
        return sdir_key_ok(v, err, errlen);
    }
    if (!strcmp(a, "--list-sessions") && !o->session_cmd) {
        o->session_cmd = SESSION_LIST;
        return 0;
    }
    if (!strcmp(a, "--stop")) {
        *stop = 1;
        return 0;
    }
    if (!strcmp(a, "--json")) {
        o->json = 1;
        return 0;
    }
    snprintf(err, errlen, "'%s' cannot be used with --attach, --is-detached or --list-sessions "
             "(only --attach=KEY --stop and --list-sessions --json go together)", a);
    return -1;
}

int session_options_parse(int argc, char **argv, rec_options *o, char *err, size_t errlen)
{
    int found = 0;
    for (int i = 1; i < argc && strcmp(argv[i], "--") && !found; i++)
        found = session_word(argv[i]);
    if (!found)
        return 0;
    int stop = 0;
    for (int i = 1; i < argc; i++)
        if (session_arg(argc, argv, &i, o, &stop, err, errlen) < 0)
            return -1;
    if (stop && o->session_cmd != SESSION_ATTACH) {
        snprintf(err, errlen, "--stop goes with --attach=KEY");
        return -1;
    }
    if (o->json && o->session_cmd != SESSION_LIST) {
        snprintf(err, errlen, "--json goes with --list-sessions");
        return -1;
    }
    if (stop)
        o->session_cmd = SESSION_STOP;
    return 1;
}
