/* require() for scripts: the built-in scripts share helpers in
 * SCRIPTDIR/lib/NAME.lua (`local profile = require("profile")`).  Only
 * that directory is searched, only as source text (bytecode is refused
 * there as everywhere), and C modules are never loaded. */
#include "runtime.h"
#include "scripts.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>

static int text_searcher(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchpath");
    lua_pushstring(L, name);
    lua_getfield(L, -3, "path");
    lua_call(L, 2, 2);
    if (lua_isnil(L, -2))
        return 1;                       /* the message listing where it looked */
    const char *path = lua_tostring(L, -2);
    if (luaL_loadfilex(L, path, "t") != LUA_OK)
        return luaL_error(L, "error loading module '%s' from '%s':\n\t%s", name, path, lua_tostring(L, -1));
    lua_pushstring(L, path);
    return 2;
}

void pa_open_require(lua_State *L)
{
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/lib/?.lua", pa_script_dir());
    lua_setfield(L, -2, "path");
    lua_pushliteral(L, "");
    lua_setfield(L, -2, "cpath");
    lua_getfield(L, -1, "searchers");
    lua_rawgeti(L, -1, 1);              /* keep package.preload's searcher */
    lua_createtable(L, 2, 0);
    lua_insert(L, -2);
    lua_rawseti(L, -2, 1);
    lua_pushcfunction(L, text_searcher);
    lua_rawseti(L, -2, 2);
    lua_setfield(L, -3, "searchers");
    lua_pop(L, 2);
}
