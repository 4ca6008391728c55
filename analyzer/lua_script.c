/* peeka.script{...}: a script's metadata (description, typed arguments
 * with defaults, how many archives it takes).  -l and -i run a script only
 * up to this call; a normal run gets the parsed --arg values back. */
#include "runtime.h"
#include "duration.h"
#include "util.h"

#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const TYPES[] = {"string", "integer", "number", "boolean", "duration", NULL};

/* Checks one argument spec at idx; raises a script error when malformed. */
static void check_spec(lua_State *L, int idx, int i)
{
    if (!lua_istable(L, idx))
        luaL_error(L, "peeka.script: args[%d] must be a table {name=, type=, default=, help=}", i);
    if (lua_getfield(L, idx, "name") != LUA_TSTRING)
        luaL_error(L, "peeka.script: args[%d] has no name", i);
    lua_pop(L, 1);
    lua_getfield(L, idx, "type");
    const char *t = lua_isnil(L, -1) ? "string" : lua_tostring(L, -1);
    int ok = 0;
    for (int k = 0; t && TYPES[k]; k++)
        ok |= strcmp(t, TYPES[k]) == 0;
    if (!ok)
        luaL_error(L, "peeka.script: args[%d] has unknown type '%s' (string, integer, number, "
                      "boolean, duration)", i, t ? t : "?");
    lua_pop(L, 1);
}

/* Converts the text of --arg NAME=VALUE by the spec at idx; pushes it. */
static void convert(lua_State *L, int spec, const char *name, const char *text)
{
    pa_rt *rt = pa_rt_get(L);
    lua_getfield(L, spec, "type");
    const char *t = lua_isnil(L, -1) ? "string" : lua_tostring(L, -1);
    lua_pop(L, 1);
    const char *want = NULL;
    if (strcmp(t, "integer") == 0) {
        char *end;
        long long v = strtoll(text, &end, 10);
        if (*text && !*end)
            lua_pushinteger(L, v);
        else
            want = "an integer, like 20";
    } else if (strcmp(t, "number") == 0) {
        char *end;
        double v = strtod(text, &end);
        if (*text && !*end && isfinite(v))
            lua_pushnumber(L, v);
        else
            want = "a number, like 0.5";
    } else if (strcmp(t, "boolean") == 0) {
        if (!strcasecmp(text, "true") || !strcmp(text, "1") || !strcasecmp(text, "yes"))
            lua_pushboolean(L, 1);
        else if (!strcasecmp(text, "false") || !strcmp(text, "0") || !strcasecmp(text, "no"))
            lua_pushboolean(L, 0);
        else
            want = "true or false";
    } else if (strcmp(t, "duration") == 0) {
        int64_t ns;
        if (peeka_duration_ns(text, PEEKA_BARE_MS, &ns) == 0)
            lua_pushinteger(L, ns);
        else
            want = "a duration, like 10ms, 1.5s or 250us";
    } else {
        lua_pushstring(L, text);
    }
    if (want)
        pa_usage_error(L, "script %s: argument '%s' expects %s, got '%s'", rt->script_name, name, want,
                       text);
    if (lua_getfield(L, spec, "choices") == LUA_TTABLE) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, i);
            int eq = lua_rawequal(L, -1, -3);
            lua_pop(L, 1);
            if (eq) {
                lua_pop(L, 1);
                return;
            }
        }
        lua_pop(L, 1);
        pa_usage_error(L, "script %s: argument '%s' is one of the choices listed by "
                          "'peeka-analyze -i %s', not '%s'", rt->script_name, name, rt->script_name, text);
    }
    lua_pop(L, 1);
}

/* Finds the spec named name in the args list at specs; pushes it or nil. */
static int find_spec(lua_State *L, int specs, const char *name)
{
    lua_Integer n = (lua_Integer)lua_rawlen(L, specs);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, specs, i);
        lua_getfield(L, -1, "name");
        int eq = strcmp(lua_tostring(L, -1), name) == 0;
        lua_pop(L, 1);
        if (eq)
            return 1;
        lua_pop(L, 1);
    }
    lua_pushnil(L);
    return 0;
}

static void arg_names(lua_State *L, int specs, pa_buf *b)
{
    lua_Integer n = (lua_Integer)lua_rawlen(L, specs);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, specs, i);
        lua_getfield(L, -1, "name");
        pa_buf_printf(b, "%s%s", i > 1 ? ", " : "", lua_tostring(L, -1));
        lua_pop(L, 2);
    }
    if (n == 0)
        pa_buf_adds(b, "none");
}

static void check_archive_count(lua_State *L, int meta)
{
    pa_rt *rt = pa_rt_get(L);
    lua_getfield(L, meta, "min_archives");
    lua_Integer lo = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 1;
    lua_getfield(L, meta, "max_archives");
    lua_Integer hi = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : -1;
    lua_pop(L, 2);
    if (rt->narchives < lo)
        pa_usage_error(L, "script %s needs at least %d archive%s, got %d (see peeka-analyze -i %s)",
                       rt->script_name, (int)lo, lo == 1 ? "" : "s", rt->narchives, rt->script_name);
    if (hi >= 0 && rt->narchives > hi)
        pa_usage_error(L, "script %s takes at most %d archive%s, got %d (see peeka-analyze -i %s)",
                       rt->script_name, (int)hi, hi == 1 ? "" : "s", rt->narchives, rt->script_name);
}

static int l_script(lua_State *L)
{
    pa_rt *rt = pa_rt_get(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    if (lua_getfield(L, 1, "args") == LUA_TNIL) {
        lua_pop(L, 1);
        lua_newtable(L);
    }
    int specs = lua_gettop(L);          /* 2 */
    luaL_checktype(L, specs, LUA_TTABLE);
    lua_Integer n = (lua_Integer)lua_rawlen(L, specs);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, specs, i);
        check_spec(L, lua_gettop(L), (int)i);
        lua_pop(L, 1);
    }
    if (rt->meta_only) {
        lua_pushvalue(L, 1);
        lua_setfield(L, LUA_REGISTRYINDEX, "peeka.meta");
        rt->meta_seen = 1;
        lua_pushliteral(L, "peeka: metadata read");
        return lua_error(L);
    }
    if (rt->meta_seen)
        return luaL_error(L, "peeka.script{} called twice");
    rt->meta_seen = 1;
    lua_createtable(L, 0, (int)n);
    int out = lua_gettop(L);            /* 3 */
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, specs, i);
        lua_getfield(L, -1, "name");
        lua_getfield(L, -2, "default");
        lua_settable(L, out);
        lua_pop(L, 1);
    }
    for (int i = 0; i < rt->nargs; i++) {
        const char *eq = strchr(rt->args[i], '=');
        if (!eq)
            return pa_usage_error(L, "--arg expects NAME=VALUE, got '%s'", rt->args[i]);
        lua_pushlstring(L, rt->args[i], (size_t)(eq - rt->args[i]));
        const char *name = lua_tostring(L, -1);
        if (!find_spec(L, specs, name)) {
            pa_buf *b = pa_lbuf_new(L);
            arg_names(L, specs, b);
            return pa_usage_error(L, "script %s has no argument '%s' (its arguments: %s; "
                                     "see peeka-analyze -i %s)", rt->script_name, name,
                                  b->p ? b->p : "", rt->script_name);
        }
        convert(L, lua_gettop(L), name, eq + 1);
        lua_setfield(L, out, name);
        lua_pop(L, 2);
    }
    check_archive_count(L, 1);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, "peeka");
    lua_pushvalue(L, out);
    lua_setfield(L, -2, "args");
    lua_pop(L, 2);
    return 1;
}

void pa_open_script(lua_State *L)
{
    lua_pushcfunction(L, l_script);
    lua_setfield(L, -2, "script");
}
