/* peeka.archive_writer(path): writes a new peeka archive through
 * common/archive_write.h (the recorder's writer), for the slice script. */
#include "archive_write.h"
#include "runtime.h"

#include <lauxlib.h>
#include <string.h>

#define WRITER_MT "peeka.archive_writer"

typedef struct {
    peeka_aw *w;
    int has_session;
} pa_writer;

static pa_writer *check_writer(lua_State *L)
{
    pa_writer *w = luaL_checkudata(L, 1, WRITER_MT);
    if (!w->w)
        luaL_error(L, "archive writer: already closed");
    return w;
}

/* peeka.archive_writer(path [, {stem=, level=}]) */
static int l_writer(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    const char *stem = NULL;
    int level = 3;
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "stem");
        stem = lua_tostring(L, -1);
        lua_getfield(L, 2, "level");
        level = (int)luaL_optinteger(L, -1, 3);
        lua_pop(L, 1);          /* stem stays anchored on the stack */
    }
    pa_writer *w = lua_newuserdatauv(L, sizeof *w, 0);
    memset(w, 0, sizeof *w);
    luaL_setmetatable(L, WRITER_MT);
    char err[512];
    w->w = peeka_aw_open(path, stem, level, err, sizeof err);
    if (!w->w)
        return luaL_error(L, "cannot write archive %s: %s", path, err);
    return 1;
}

static int w_member(lua_State *L)
{
    pa_writer *w = check_writer(L);
    const char *name = luaL_checkstring(L, 2);
    size_t len;
    const char *data = luaL_checklstring(L, 3, &len);
    if (peeka_aw_member(w->w, name, data, len) < 0)
        return luaL_error(L, "archive writer: %s", peeka_aw_error(w->w));
    return 0;
}

/* w:append(jsonl): whole lines; a missing final newline is added. */
static int w_append(lua_State *L)
{
    pa_writer *w = check_writer(L);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    if (len == 0)
        return 0;
    if (data[len - 1] != '\n') {
        lua_pushvalue(L, 2);
        lua_pushliteral(L, "\n");
        lua_concat(L, 2);
        data = lua_tolstring(L, -1, &len);
    }
    if (peeka_aw_append_records(w->w, data, len) < 0)
        return luaL_error(L, "archive writer: %s", peeka_aw_error(w->w));
    return 0;
}

static int w_records(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)peeka_aw_records(check_writer(L)->w));
    return 1;
}

static int w_chunks(lua_State *L)
{
    pa_writer *w = check_writer(L);
    if (peeka_aw_flush(w->w) < 0)
        return luaL_error(L, "archive writer: %s", peeka_aw_error(w->w));
    lua_pushinteger(L, (lua_Integer)peeka_aw_chunks(w->w));
    return 1;
}

static int w_close(lua_State *L)
{
    pa_writer *w = check_writer(L);
    size_t len;
    const char *summary = luaL_checklstring(L, 2, &len);
    char err[512];
    peeka_aw *aw = w->w;
    w->w = NULL;                /* closed whatever happens */
    if (peeka_aw_close(aw, summary, len, err, sizeof err) < 0)
        return luaL_error(L, "archive writer: %s", err);
    return 0;
}

static int w_gc(lua_State *L)
{
    pa_writer *w = luaL_checkudata(L, 1, WRITER_MT);
    if (w->w)
        peeka_aw_abort(w->w);
    w->w = NULL;
    return 0;
}

void pa_open_writer(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"member", w_member}, {"append", w_append}, {"records", w_records},
        {"chunks", w_chunks}, {"close", w_close}, {"abort", w_gc}, {NULL, NULL}};
    luaL_newmetatable(L, WRITER_MT);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, w_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_writer);
    lua_setfield(L, -2, "archive_writer");
}
