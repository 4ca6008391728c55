/* peeka.redactor{RULES}: the recorder's redaction rules (common/redact.h)
 * for scripts, with what the redact script needs: a line redacted as the
 * agent would have done it (redact_line.c), a name tested, free text. */
#include "redact_line.h"
#include "runtime.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#define REDACTOR_MT "peeka.redactor"

typedef struct {
    peeka_redact r;
    int live;                   /* r holds compiled rules to free */
} pa_redactor;

static pa_redactor *check_redactor(lua_State *L)
{
    return luaL_checkudata(L, 1, REDACTOR_MT);
}

/* The rule strings stay in the userdata's user value, for rd:rules(). */
static int l_redactor(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 1);
    pa_redactor *rd = lua_newuserdatauv(L, sizeof *rd, 1);
    peeka_redact_init(&rd->r);
    rd->live = 1;
    luaL_setmetatable(L, REDACTOR_MT);
    lua_createtable(L, (int)n, 0);
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_geti(L, 1, i) != LUA_TSTRING)
            return luaL_error(L, "peeka.redactor: rule %d is not a string", (int)i);
        const char *rule = lua_tostring(L, -1);
        char err[512];
        if (peeka_redact_add(&rd->r, rule, err, sizeof err) < 0)
            return pa_usage_error(L, "%s", err);
        lua_seti(L, -2, i);
    }
    lua_setiuservalue(L, -2, 1);
    return 1;
}

/* rd:line(json [, record_hidden]) -> line, values_replaced, unnamed
 * (params without names); bit k of record_hidden hides record[k+1]. */
static int r_line(lua_State *L)
{
    pa_redactor *rd = check_redactor(L);
    size_t n;
    const char *s = luaL_checklstring(L, 2, &n);
    unsigned long long hidden = (unsigned long long)luaL_optinteger(L, 3, 0);
    if (n && s[n - 1] == '\n')
        n--;
    pa_buf *out = pa_lbuf_new(L);
    pa_redact_stats st;
    pa_jerr e = {NULL, 0};
    if (pa_redact_line(&rd->r, s, n, hidden, out, &st, &e) < 0)
        return luaL_error(L, "redactor: %s at byte %d of the line", e.msg, (int)e.off);
    lua_pushlstring(L, out->p ? out->p : "", out->len);
    lua_pushinteger(L, st.values);
    lua_pushboolean(L, st.unnamed);
    return 3;
}

/* rd:key(name) -> boolean */
static int r_key(lua_State *L)
{
    pa_redactor *rd = check_redactor(L);
    size_t n;
    const char *s = luaL_checklstring(L, 2, &n);   /* Lua strings end in a NUL */
    lua_pushboolean(L, peeka_redact_key(&rd->r, s, n));
    return 1;
}

/* rd:text(s) -> text, changed: `key=value` values replaced */
static int r_text(lua_State *L)
{
    pa_redactor *rd = check_redactor(L);
    size_t n;
    const char *s = luaL_checklstring(L, 2, &n);
    char *out;
    size_t outlen;
    int rc = peeka_redact_text(&rd->r, s, n, &out, &outlen);
    if (rc < 0)
        return luaL_error(L, "redactor: out of memory");
    if (rc == 0)
        lua_pushvalue(L, 2);
    else
        lua_pushlstring(L, out, outlen);
    free(out);
    lua_pushboolean(L, rc > 0);
    return 2;
}

/* rd:option(word) -> boolean: `--password`, whose value is the next word */
static int r_option(lua_State *L)
{
    pa_redactor *rd = check_redactor(L);
    lua_pushboolean(L, peeka_redact_option(&rd->r, luaL_checkstring(L, 2)));
    return 1;
}

/* rd:rules() -> a new list of the rule strings */
static int r_rules(lua_State *L)
{
    check_redactor(L);
    lua_getiuservalue(L, 1, 1);
    lua_Integer n = luaL_len(L, -1);
    lua_createtable(L, (int)n, 0);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, -2, i);
        lua_seti(L, -2, i);
    }
    return 1;
}

static int r_gc(lua_State *L)
{
    pa_redactor *rd = check_redactor(L);
    if (rd->live)
        peeka_redact_free(&rd->r);
    rd->live = 0;
    return 0;
}

void pa_open_redact(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"line", r_line}, {"key", r_key}, {"text", r_text}, {"option", r_option}, {"rules", r_rules}, {NULL, NULL}};
    luaL_newmetatable(L, REDACTOR_MT);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, r_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_redactor);
    lua_setfield(L, -2, "redactor");
    lua_pushliteral(L, PEEKA_REDACT_DEFAULT);
    lua_setfield(L, -2, "redact_default");
    lua_pushliteral(L, PEEKA_REDACTED);
    lua_setfield(L, -2, "redacted");
}
