/* Script lookup and the -l / -i listings: see scripts.h. */
#include "scripts.h"
#include "runtime.h"

#include <dirent.h>
#include <lauxlib.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

const char *pa_script_dir(void)
{
    static char dir[PATH_MAX];
    if (dir[0])
        return dir;
    const char *env = getenv("PEEKA_SCRIPT_DIR");
    if (env && *env) {
        snprintf(dir, sizeof dir, "%s", env);
        return dir;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        snprintf(dir, sizeof dir, "/usr/local/share/peeka/scripts");
        return dir;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    /* A build directory inside the source tree uses the sources directly. */
    char probe[PATH_MAX + 64];
    snprintf(probe, sizeof probe, "%s/../../analyzer/main.c", exe);
    if (is_file(probe)) {
        snprintf(dir, sizeof dir, "%.*s/../../scripts", (int)(sizeof dir - 20), exe);
        return dir;
    }
    snprintf(dir, sizeof dir, "%.*s/../share/peeka/scripts", (int)(sizeof dir - 30), exe);
    return dir;
}

int pa_builtin_path(const char *name, char *buf, size_t len)
{
    if (!*name || strchr(name, '/'))
        return -1;
    snprintf(buf, len, "%s/%s.lua", pa_script_dir(), name);
    return is_file(buf) ? 0 : -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the built-in scripts (without .lua); caller frees. */
static char **builtin_list(int *count)
{
    *count = 0;
    DIR *d = opendir(pa_script_dir());
    if (!d)
        return NULL;
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l <= 4 || strcmp(e->d_name + l - 4, ".lua") != 0 || e->d_name[0] == '_')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, sizeof *nn * (size_t)cap);
            if (!nn)
                break;
            names = nn;
        }
        names[n] = strndup(e->d_name, l - 4);
        if (names[n])
            n++;
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    *count = n;
    return names;
}

static void free_list(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

void pa_builtin_names(char *buf, size_t len)
{
    int n;
    char **names = builtin_list(&n);
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", names[i]);
    free_list(names, n);
    if (n == 0)
        snprintf(buf, len, "none found in %s", pa_script_dir());
}

/* Pushes the metadata table of a script (or nil); NULL rt on failure. */
static pa_rt *load_meta(const char *path, const char *name)
{
    pa_rt *rt = pa_rt_new();
    if (!rt)
        return NULL;
    rt->script_name = name;
    if (pa_rt_script_meta(rt, path) < 0) {
        const char *msg = lua_tostring(rt->L, -1);
        fprintf(stderr, "peeka-analyze: %s: %s\n", name, msg ? msg : "cannot be loaded");
        pa_rt_free(rt);
        return NULL;
    }
    return rt;
}

static const char *meta_str(lua_State *L, const char *key, const char *dflt)
{
    if (!lua_istable(L, -1))
        return dflt;
    lua_getfield(L, -1, key);
    const char *s = lua_tostring(L, -1);
    lua_pop(L, 1);          /* still anchored by the metadata table */
    return s ? s : dflt;
}

int pa_list_scripts(void)
{
    int n, width = 0;
    char **names = builtin_list(&n);
    if (n == 0) {
        fprintf(stderr, "peeka-analyze: no built-in scripts in %s (set PEEKA_SCRIPT_DIR)\n", pa_script_dir());
        free_list(names, n);
        return PA_EXIT_USAGE;
    }
    for (int i = 0; i < n; i++)
        if ((int)strlen(names[i]) > width)
            width = (int)strlen(names[i]);
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX + 64];
        pa_builtin_path(names[i], path, sizeof path);
        pa_rt *rt = load_meta(path, names[i]);
        printf("%-*s  %s\n", width, names[i],
               rt ? meta_str(rt->L, "description", "(no description)") : "(cannot be loaded)");
        pa_rt_free(rt);
    }
    free_list(names, n);
    return PA_EXIT_OK;
}

static void describe_args(lua_State *L)
{
    lua_getfield(L, -1, "args");
    lua_Integer n = lua_istable(L, -1) ? (lua_Integer)lua_rawlen(L, -1) : 0;
    if (n == 0) {
        printf("\narguments: none\n");
        lua_pop(L, 1);
        return;
    }
    printf("\narguments (--arg NAME=VALUE):\n");
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        lua_getfield(L, -1, "name");
        lua_getfield(L, -2, "type");
        lua_getfield(L, -3, "help");
        lua_getfield(L, -4, "default");
        const char *type = lua_isnil(L, -3) ? "string" : lua_tostring(L, -3);
        char spec[128];
        snprintf(spec, sizeof spec, "%s=%s", lua_tostring(L, -4), type);
        printf("  %-22s %s", spec, lua_isstring(L, -2) ? lua_tostring(L, -2) : "");
        if (!lua_isnil(L, -1))
            printf(" (default: %s)", luaL_tolstring(L, -1, NULL));
        else
            printf(" (default: none)");
        printf("\n");
        lua_settop(L, lua_gettop(L) - (lua_isnil(L, -1) ? 5 : 6));
    }
    lua_pop(L, 1);
}

int pa_describe_script(const char *name)
{
    char path[PATH_MAX + 64];
    const char *p = name;
    if (pa_builtin_path(name, path, sizeof path) == 0) {
        p = path;
    } else if (!is_file(name)) {
        char names[1024];
        pa_builtin_names(names, sizeof names);
        fprintf(stderr, "peeka-analyze: unknown script '%s' (built-in scripts: %s; or give a path to a .lua file)\n",
                name, names);
        return PA_EXIT_USAGE;
    }
    pa_rt *rt = load_meta(p, name);
    if (!rt)
        return PA_EXIT_USAGE;
    lua_State *L = rt->L;
    if (!lua_istable(L, -1)) {
        printf("%s: no peeka.script{} metadata (a plain script)\n", name);
        pa_rt_free(rt);
        return PA_EXIT_OK;
    }
    printf("%s - %s\n", name, meta_str(L, "description", "(no description)"));
    printf("usage: %s\n", meta_str(L, "usage", "peeka-analyze [OPTIONS] ARCHIVE... SCRIPT [--arg NAME=VALUE...]"));
    const char *help = meta_str(L, "help", NULL);
    if (help)
        printf("\n%s\n", help);
    describe_args(L);
    pa_rt_free(rt);
    return PA_EXIT_OK;
}

