/* The Lua runtime: see runtime.h.  Scripts are loaded as text only
 * (precompiled bytecode is refused); errors carry a traceback and the
 * location of the record being processed. */
#include "runtime.h"
#include "archive_read.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char RT_KEY[] = "peeka.rt";

pa_rt *pa_rt_get(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, RT_KEY);
    pa_rt *rt = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return rt;
}

/* load() with text mode forced: a script cannot smuggle in bytecode. */
static int safe_load(lua_State *L)
{
    lua_settop(L, 4);
    lua_pushliteral(L, "t");
    lua_replace(L, 3);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 4, LUA_MULTRET);
    return lua_gettop(L);
}

static int safe_loadfile(lua_State *L)
{
    const char *path = luaL_optstring(L, 1, NULL);
    if (luaL_loadfilex(L, path, "t") != LUA_OK) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    return 1;
}

static int safe_dofile(lua_State *L)
{
    const char *path = luaL_optstring(L, 1, NULL);
    lua_settop(L, 1);
    if (luaL_loadfilex(L, path, "t") != LUA_OK)
        return lua_error(L);
    lua_call(L, 0, LUA_MULTRET);
    return lua_gettop(L) - 1;
}

static void harden_loaders(lua_State *L)
{
    lua_getglobal(L, "load");
    lua_pushcclosure(L, safe_load, 1);
    lua_setglobal(L, "load");
    lua_pushcfunction(L, safe_loadfile);
    lua_setglobal(L, "loadfile");
    lua_pushcfunction(L, safe_dofile);
    lua_setglobal(L, "dofile");
}

static void open_peeka(lua_State *L)
{
    lua_newtable(L);
    pa_open_util(L);
    pa_open_json(L);
    pa_open_stats(L);
    pa_open_render(L);
    pa_open_records(L);
    pa_open_script(L);
    pa_open_writer(L);
    pa_open_redact(L);
    lua_pushliteral(L, PEEKA_VERSION);
    lua_setfield(L, -2, "version");
    lua_newtable(L);
    lua_setfield(L, -2, "archives");
    lua_newtable(L);
    lua_setfield(L, -2, "args");
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "peeka");
    lua_pop(L, 1);
    lua_setglobal(L, "peeka");
}

pa_rt *pa_rt_new(void)
{
    pa_rt *rt = calloc(1, sizeof *rt);
    if (!rt)
        return NULL;
    rt->L = luaL_newstate();
    if (!rt->L) {
        free(rt);
        return NULL;
    }
    lua_State *L = rt->L;
    luaL_openlibs(L);
    lua_pushlightuserdata(L, rt);
    lua_setfield(L, LUA_REGISTRYINDEX, RT_KEY);
    harden_loaders(L);
    pa_open_require(L);
    open_peeka(L);
    return rt;
}

void pa_rt_free(pa_rt *rt)
{
    if (!rt)
        return;
    lua_close(rt->L);
    free(rt->warned);
    free(rt);
}

void pa_push_archive_info(lua_State *L, int i)
{
    lua_getglobal(L, "peeka");
    lua_getfield(L, -1, "archives");
    lua_rawgeti(L, -1, i);
    lua_replace(L, -3);
    lua_pop(L, 1);
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int pa_rt_load_archives(pa_rt *rt)
{
    lua_State *L = rt->L;
    rt->warned = calloc((size_t)rt->narchives + 1, 1);
    if (!rt->warned)
        return PA_EXIT_ARCHIVE;
    lua_getglobal(L, "peeka");
    lua_getfield(L, -1, "archives");
    for (int i = 0; i < rt->narchives; i++) {
        char err[600];
        pa_ar *ar = pa_ar_open(rt->archives[i], err, sizeof err);
        if (!ar) {
            fprintf(stderr, "peeka-analyze: %s: %s\n", rt->archives[i], err);
            lua_pop(L, 2);
            return PA_EXIT_ARCHIVE;
        }
        size_t len;
        const char *s = pa_ar_session(ar, &len);
        const char *jerr;
        size_t off;
        lua_createtable(L, 0, 8);
        if (pa_json_push(L, s, len, &jerr, &off) < 0) {
            fprintf(stderr, "peeka-analyze: %s: session.json is invalid JSON (%s)\n", rt->archives[i], jerr);
            pa_ar_close(ar);
            lua_pop(L, 3);
            return PA_EXIT_ARCHIVE;
        }
        pa_ar_close(ar);
        lua_setfield(L, -2, "session");
        lua_pushinteger(L, i + 1);
        lua_setfield(L, -2, "index");
        lua_pushstring(L, rt->archives[i]);
        lua_setfield(L, -2, "path");
        lua_pushstring(L, base_name(rt->archives[i]));
        lua_setfield(L, -2, "name");
        lua_rawseti(L, -2, i + 1);
    }
    lua_pop(L, 2);
    return PA_EXIT_OK;
}

/* Message handler: traceback plus the record being processed.  Archive
 * and usage errors are reported as they are: they are not script bugs. */
static int msgh(lua_State *L)
{
    pa_rt *rt = pa_rt_get(L);
    if (rt->archive_error || rt->usage_error || rt->meta_only)
        return 1;
    const char *msg = lua_tostring(L, 1);
    if (!msg) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1);
        else
            msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    char where[700];
    if (pa_cursor_where(rt->cur, where, sizeof where))
        lua_pushfstring(L, "%s\nwhile processing the record at %s", lua_tostring(L, -1), where);
    return 1;
}

static int run_and_drive(lua_State *L)
{
    lua_call(L, 0, 0);          /* the chunk */
    return pa_drive_callbacks(L);
}

static int report(pa_rt *rt, int status)
{
    lua_State *L = rt->L;
    fflush(stdout);
    if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        if (!msg)
            msg = "(no message)";
        if (rt->archive_error) {
            fprintf(stderr, "peeka-analyze: %s\n", msg);
            return PA_EXIT_ARCHIVE;
        }
        if (rt->usage_error) {
            fprintf(stderr, "peeka-analyze: %s\n", msg);
            return PA_EXIT_USAGE;
        }
        fprintf(stderr, "peeka-analyze: script error: %s\n", msg);
        return PA_EXIT_USAGE;
    }
    if (rt->archive_error)
        return PA_EXIT_ARCHIVE;
    return rt->failed ? PA_EXIT_FAIL : PA_EXIT_OK;
}

static int run_loaded(pa_rt *rt)
{
    lua_State *L = rt->L;
    int base = lua_gettop(L);   /* the loaded chunk */
    lua_pushcfunction(L, msgh);
    lua_pushcfunction(L, run_and_drive);
    lua_pushvalue(L, base);
    int status = lua_pcall(L, 1, 0, base + 1);
    int code = report(rt, status);
    lua_settop(L, base - 1);
    return code;
}

static int load_error(pa_rt *rt, const char *display)
{
    const char *msg = lua_tostring(rt->L, -1);
    if (msg && strstr(msg, "binary chunk"))
        fprintf(stderr, "peeka-analyze: %s: precompiled Lua bytecode is refused; give the .lua source\n",
                display);
    else
        fprintf(stderr, "peeka-analyze: script error: %s\n", msg ? msg : "cannot load");
    lua_pop(rt->L, 1);
    return PA_EXIT_USAGE;
}

int pa_rt_run_file(pa_rt *rt, const char *path, const char *display)
{
    if (luaL_loadfilex(rt->L, path, "t") != LUA_OK)
        return load_error(rt, display);
    return run_loaded(rt);
}

int pa_rt_run_string(pa_rt *rt, const char *code)
{
    if (luaL_loadbufferx(rt->L, code, strlen(code), "=(command line)", "t") != LUA_OK)
        return load_error(rt, "-e");
    return run_loaded(rt);
}

int pa_rt_script_meta(pa_rt *rt, const char *path)
{
    lua_State *L = rt->L;
    rt->meta_only = 1;
    if (luaL_loadfilex(L, path, "t") != LUA_OK)
        return -1;
    int status = lua_pcall(L, 0, 0, 0);
    if (rt->meta_seen) {
        lua_pop(L, status == LUA_OK ? 0 : 1);
        lua_getfield(L, LUA_REGISTRYINDEX, "peeka.meta");
        return 0;
    }
    if (status != LUA_OK)
        return -1;
    lua_pushnil(L);
    return 0;
}
