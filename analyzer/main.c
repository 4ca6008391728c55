/* peeka-analyze: replays peeka archives through Lua 5.4 scripts.
 *   peeka-analyze [OPTIONS] ARCHIVE... SCRIPT [--arg NAME=VALUE...]
 * Exit codes: 0 ok, 1 a check failed, 2 usage or script error,
 * 3 unreadable archive. */
#include "runtime.h"
#include "scripts.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *f)
{
    fprintf(f,
        "usage: peeka-analyze [OPTIONS] ARCHIVE... SCRIPT [--arg NAME=VALUE...]\n"
        "       peeka-analyze [OPTIONS] ARCHIVE... -e 'LUA'\n"
        "       peeka-analyze -l | -i SCRIPT\n"
        "\n"
        "Replays peeka archives offline through Lua 5.4 scripts: filter, aggregate,\n"
        "compare recordings, render call trees and flame graphs.\n"
        "SCRIPT is a built-in script name (peeka-analyze -l lists them) or a path to a .lua file.\n"
        "\n"
        "options:\n"
        "  -e LUA             run LUA (a chunk using the peeka API) instead of a script\n"
        "  -l, --list         list the built-in scripts\n"
        "  -i, --info SCRIPT  describe a script and its arguments\n"
        "  -a, --arg NAME=VALUE  a script argument (repeatable)\n"
        "  -f, --format FMT   table output: text (default), json or markdown\n"
        "  -q, --quiet        no warnings about incomplete archives\n"
        "  -h, --help         this help;  -V, --version  the version\n"
        "\n"
        "exit codes: 0 ok, 1 a check failed (peeka.fail, a regression), 2 usage or script error,\n"
        "            3 an archive cannot be read\n"
        "\n"
        "The Lua API is documented in docs/lua-api.md (man 7 peeka-lua).\n");
}

typedef struct {
    const char *script;         /* name or path */
    const char *code;           /* -e */
    const char *describe;       /* -i */
    int list;
    char **archives;
    int narchives;
    char **args;
    int nargs;
    int format, format_set, quiet;
} options;

static int has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static int usage_error(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "peeka-analyze: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n(peeka-analyze --help shows the usage)\n");
    return PA_EXIT_USAGE;
}

/* A positional is a script (.lua file or built-in name) or an archive. */
static int positional(options *o, char *arg)
{
    char path[PATH_MAX + 64];
    int is_script = has_suffix(arg, ".lua") || has_suffix(arg, ".luac");
    if (!is_script && !strchr(arg, '/') && !has_suffix(arg, ".zst") && !has_suffix(arg, ".partial") &&
        !has_suffix(arg, ".tar") && pa_builtin_path(arg, path, sizeof path) == 0)
        is_script = 1;
    if (!is_script && !exists(arg) && !strchr(arg, '/') && !strchr(arg, '.')) {
        char names[1024];
        pa_builtin_names(names, sizeof names);
        return usage_error("'%s' is neither an archive (no such file) nor a built-in script (%s)", arg,
                           names);
    }
    if (is_script) {
        if (o->script)
            return usage_error("two scripts given ('%s' and '%s'): give one", o->script, arg);
        o->script = arg;
        return 0;
    }
    o->archives[o->narchives++] = arg;
    return 0;
}

static int parse_format(options *o, const char *v)
{
    if (strcmp(v, "text") == 0)
        o->format = PA_FMT_TEXT;
    else if (strcmp(v, "json") == 0)
        o->format = PA_FMT_JSON;
    else if (strcmp(v, "markdown") == 0 || strcmp(v, "md") == 0)
        o->format = PA_FMT_MARKDOWN;
    else
        return usage_error("--format is text, json or markdown, not '%s'%s", v, "");
    o->format_set = 1;
    return 0;
}

/* Returns -1 when parsing went fine, else an exit code. */
static int parse_args(int argc, char **argv, options *o)
{
    int only_positional = 0;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        const char *val = NULL;
#define NEEDS_VALUE()                                                              \
    do {                                                                           \
        if (i + 1 >= argc)                                                         \
            return usage_error("option %s needs a value%s", a, "");                \
        val = argv[++i];                                                           \
    } while (0)
        if (only_positional || a[0] != '-' || a[1] == '\0') {
            int rc = positional(o, a);
            if (rc)
                return rc;
        } else if (strcmp(a, "--") == 0) {
            only_positional = 1;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return PA_EXIT_OK;
        } else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            printf("peeka-analyze %s\n", PEEKA_VERSION);
            return PA_EXIT_OK;
        } else if (strcmp(a, "-l") == 0 || strcmp(a, "--list") == 0) {
            o->list = 1;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            o->quiet = 1;
        } else if (strcmp(a, "-e") == 0) {
            NEEDS_VALUE();
            o->code = val;
        } else if (strcmp(a, "-i") == 0 || strcmp(a, "--info") == 0) {
            NEEDS_VALUE();
            o->describe = val;
        } else if (strcmp(a, "-a") == 0 || strcmp(a, "--arg") == 0) {
            NEEDS_VALUE();
            o->args[o->nargs++] = (char *)val;
        } else if (strncmp(a, "--arg=", 6) == 0) {
            o->args[o->nargs++] = a + 6;
        } else if (strcmp(a, "-f") == 0 || strcmp(a, "--format") == 0) {
            NEEDS_VALUE();
            if (parse_format(o, val))
                return PA_EXIT_USAGE;
        } else if (strncmp(a, "--format=", 9) == 0) {
            if (parse_format(o, a + 9))
                return PA_EXIT_USAGE;
        } else {
            return usage_error("unknown option '%s'%s", a, "");
        }
#undef NEEDS_VALUE
    }
    return -1;
}

static int run(options *o)
{
    char path[PATH_MAX + 64];
    const char *script_path = NULL;
    if (o->code && o->script)
        return usage_error("give either -e 'LUA' or a script ('%s'), not both%s", o->script, "");
    if (!o->code && !o->script) {
        char names[1024];
        pa_builtin_names(names, sizeof names);
        return usage_error("no script given: name a built-in script (%s) or a .lua file%s", names, "");
    }
    if (o->script) {
        if (pa_builtin_path(o->script, path, sizeof path) == 0) {
            script_path = path;
        } else if (exists(o->script)) {
            script_path = o->script;
        } else {
            char names[1024];
            pa_builtin_names(names, sizeof names);
            fprintf(stderr, "peeka-analyze: unknown script '%s': no such file, and the built-in scripts are: %s\n",
                    o->script, names);
            return PA_EXIT_USAGE;
        }
    }
    if (o->narchives == 0)
        return usage_error("no archive given (usage: peeka-analyze ARCHIVE... %s)%s",
                           o->script ? o->script : "-e 'LUA'", "");
    pa_rt *rt = pa_rt_new();
    if (!rt) {
        fprintf(stderr, "peeka-analyze: out of memory\n");
        return PA_EXIT_USAGE;
    }
    rt->archives = o->archives;
    rt->narchives = o->narchives;
    rt->args = o->args;
    rt->nargs = o->nargs;
    rt->format = o->format;
    rt->format_set = o->format_set;
    rt->quiet = o->quiet;
    rt->script_name = o->script ? o->script : "-e";
    lua_State *L = rt->L;
    lua_getglobal(L, "peeka");
    lua_pushstring(L, o->format == PA_FMT_JSON ? "json" : o->format == PA_FMT_MARKDOWN ? "markdown" : "text");
    lua_setfield(L, -2, "format");
    lua_getfield(L, -1, "args");
    for (int i = 0; i < o->nargs; i++) {     /* raw values until peeka.script{} types them */
        const char *eq = strchr(o->args[i], '=');
        if (!eq)
            continue;
        lua_pushlstring(L, o->args[i], (size_t)(eq - o->args[i]));
        lua_pushstring(L, eq + 1);
        lua_settable(L, -3);
    }
    lua_pop(L, 2);
    int code = pa_rt_load_archives(rt);
    if (code == PA_EXIT_OK)
        code = script_path ? pa_rt_run_file(rt, script_path, o->script) : pa_rt_run_string(rt, o->code);
    if (fflush(stdout) != 0 && code == PA_EXIT_OK) {
        fprintf(stderr, "peeka-analyze: cannot write the output\n");
        code = PA_EXIT_USAGE;
    }
    pa_rt_free(rt);
    return code;
}

int main(int argc, char **argv)
{
    options o = {0};
    o.archives = calloc((size_t)argc, sizeof *o.archives);
    o.args = calloc((size_t)argc, sizeof *o.args);
    if (!o.archives || !o.args) {
        fprintf(stderr, "peeka-analyze: out of memory\n");
        return PA_EXIT_USAGE;
    }
    int code = parse_args(argc, argv, &o);
    if (code < 0) {
        if (o.list)
            code = pa_list_scripts();
        else if (o.describe)
            code = pa_describe_script(o.describe);
        else
            code = run(&o);
    }
    free(o.archives);
    free(o.args);
    return code;
}
