/* JSON for Lua: peeka.json.decode/encode, peeka.json.null, and the decoder
 * the record fields use.  Objects and arrays become tables; JSON null
 * inside them is peeka.json.null so arrays keep their length. */
#include "json_scan.h"
#include "runtime.h"
#include "util.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_MT "peeka.json.array"

typedef struct {
    lua_State *L;
    const char *s;
    size_t n, i;
    int depth;
    pa_jerr e;
} jdec;

static size_t ws(jdec *d)
{
    while (d->i < d->n && (d->s[d->i] == ' ' || d->s[d->i] == '\t' || d->s[d->i] == '\n' ||
                           d->s[d->i] == '\r'))
        d->i++;
    return d->i;
}

static int dec_string(jdec *d)
{
    uint8_t esc = 0;
    long end = pa_scan_string(d->s, d->n, d->i + 1, &esc, &d->e);
    if (end < 0)
        return -1;
    const char *p = d->s + d->i + 1;
    size_t len = (size_t)end - d->i - 1;
    if (!esc) {
        lua_pushlstring(d->L, p, len);
    } else {
        luaL_Buffer b;
        char *out = luaL_buffinitsize(d->L, &b, len ? len : 1);
        long m = pa_json_unescape(p, len, out);
        if (m < 0) {
            luaL_pushresultsize(&b, 0);
            lua_pop(d->L, 1);
            pa_jfail(&d->e, "invalid escape in a string", d->i);
            return -1;
        }
        luaL_pushresultsize(&b, (size_t)m);
    }
    d->i = (size_t)end + 1;
    return 0;
}

static int dec_value(jdec *d);

static int dec_container(jdec *d, int is_obj)
{
    if (++d->depth > PA_JSON_MAX_DEPTH) {
        pa_jfail(&d->e, "JSON nested deeper than 512 levels", d->i);
        return -1;
    }
    luaL_checkstack(d->L, 4, "JSON nesting");
    lua_newtable(d->L);
    if (!is_obj)
        luaL_setmetatable(d->L, ARRAY_MT);
    d->i++;
    lua_Integer k = 0;
    char close = is_obj ? '}' : ']';
    if (ws(d) < d->n && d->s[d->i] == close) {
        d->i++;
        d->depth--;
        return 0;
    }
    for (;;) {
        ws(d);
        if (is_obj) {
            if (d->i >= d->n || d->s[d->i] != '"') {
                pa_jfail(&d->e, "expected a field name", d->i);
                return -1;
            }
            if (dec_string(d) < 0)
                return -1;
            if (ws(d) >= d->n || d->s[d->i] != ':') {
                pa_jfail(&d->e, "expected ':'", d->i);
                return -1;
            }
            d->i++;
        }
        ws(d);
        if (dec_value(d) < 0)
            return -1;
        if (is_obj)
            lua_rawset(d->L, -3);
        else
            lua_rawseti(d->L, -2, ++k);
        if (ws(d) < d->n && d->s[d->i] == ',') {
            d->i++;
            continue;
        }
        if (d->i < d->n && d->s[d->i] == close) {
            d->i++;
            d->depth--;
            return 0;
        }
        pa_jfail(&d->e, is_obj ? "expected ',' or '}'" : "expected ',' or ']'", d->i);
        return -1;
    }
}

static int dec_literal(jdec *d, const char *lit)
{
    size_t l = strlen(lit);
    if (d->n - d->i < l || memcmp(d->s + d->i, lit, l) != 0) {
        pa_jfail(&d->e, "invalid literal", d->i);
        return -1;
    }
    d->i += l;
    return 0;
}

static int dec_value(jdec *d)
{
    if (d->i >= d->n) {
        pa_jfail(&d->e, "missing value", d->i);
        return -1;
    }
    switch (d->s[d->i]) {
    case '"': return dec_string(d);
    case '{': return dec_container(d, 1);
    case '[': return dec_container(d, 0);
    case 't':
        if (dec_literal(d, "true") < 0) return -1;
        lua_pushboolean(d->L, 1);
        return 0;
    case 'f':
        if (dec_literal(d, "false") < 0) return -1;
        lua_pushboolean(d->L, 0);
        return 0;
    case 'n':
        if (dec_literal(d, "null") < 0) return -1;
        lua_pushlightuserdata(d->L, NULL);
        return 0;
    default: {
        uint8_t flags = 0;
        size_t start = d->i;
        long end = pa_scan_number(d->s, d->n, d->i, &flags, &d->e);
        if (end < 0)
            return -1;
        int64_t v;
        if ((flags & PA_JF_INT) && pa_json_int(d->s + start, (size_t)end - start, &v))
            lua_pushinteger(d->L, (lua_Integer)v);
        else
            lua_pushnumber(d->L, pa_json_double(d->s + start, (size_t)end - start));
        d->i = (size_t)end;
        return 0;
    }
    }
}

int pa_json_push(lua_State *L, const char *s, size_t n, const char **err, size_t *erroff)
{
    jdec d = {L, s, n, 0, 0, {NULL, 0}};
    int top = lua_gettop(L);
    ws(&d);
    if (dec_value(&d) == 0 && ws(&d) == n)
        return 0;
    if (!d.e.msg)
        pa_jfail(&d.e, "trailing characters after the value", d.i);
    lua_settop(L, top);
    *err = d.e.msg;
    *erroff = d.e.off;
    return -1;
}

static int l_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    const char *err;
    size_t off;
    if (pa_json_push(L, s, n, &err, &off) < 0)
        return luaL_error(L, "peeka.json.decode: %s at byte %d", err, (int)off + 1);
    if (lua_islightuserdata(L, -1) && lua_touserdata(L, -1) == NULL) {
        lua_pop(L, 1);
        lua_pushnil(L);         /* a top-level null is nil */
    }
    return 1;
}

/* ---- encoding ------------------------------------------------------------ */

typedef struct {
    lua_State *L;
    pa_buf *b;
    int indent;
} jenc;

static void enc_value(jenc *e, int idx, int depth);

static void enc_number(pa_buf *b, lua_State *L, int idx)
{
    if (lua_isinteger(L, idx)) {
        pa_buf_printf(b, "%lld", (long long)lua_tointeger(L, idx));
        return;
    }
    double d = lua_tonumber(L, idx);
    if (isnan(d)) {
        pa_buf_adds(b, "\"NaN\"");
        return;
    }
    if (isinf(d)) {
        pa_buf_adds(b, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        return;
    }
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {       /* shortest that round-trips */
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    pa_buf_adds(b, tmp);
    if (!strpbrk(tmp, ".eEn"))
        pa_buf_adds(b, ".0");   /* keep floats floats */
}

static void newline(jenc *e, int depth)
{
    if (!e->indent)
        return;
    pa_buf_addc(e->b, '\n');
    for (int i = 0; i < depth * e->indent; i++)
        pa_buf_addc(e->b, ' ');
}

/* 1 when the table at idx is a sequence 1..n with nothing else. */
static int is_array(lua_State *L, int idx, lua_Integer *len)
{
    if (lua_getmetatable(L, idx)) {
        luaL_getmetatable(L, ARRAY_MT);
        int tagged = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
        if (tagged) {
            *len = (lua_Integer)lua_rawlen(L, idx);
            return 1;
        }
    }
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx), count = 0;
    if (n == 0)
        return 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        count++;
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > n) {
            lua_pop(L, 1);
            return 0;
        }
    }
    *len = n;
    return count == n;
}

static int key_cmp(const void *a, const void *b)
{
    const char *const *x = a, *const *y = b;
    return strcmp(*x, *y);
}

static void enc_object(jenc *e, int idx, int depth)
{
    lua_State *L = e->L;
    /* Keys sorted, so output is stable: collect them as strings first. */
    lua_newtable(L);
    int keys = lua_gettop(L);
    lua_Integer nk = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        int t = lua_type(L, -1);
        if (t != LUA_TSTRING && t != LUA_TNUMBER)
            luaL_error(L, "peeka.json.encode: cannot encode a table key of type %s", lua_typename(L, t));
        lua_pushvalue(L, -1);
        lua_tolstring(L, -1, NULL);   /* numbers become their text */
        lua_rawseti(L, keys, ++nk);
    }
    const char **names = lua_newuserdatauv(L, sizeof *names * (size_t)(nk ? nk : 1), 0);
    for (lua_Integer i = 0; i < nk; i++) {
        lua_rawgeti(L, keys, i + 1);
        names[i] = lua_tostring(L, -1);   /* anchored by the keys table */
        lua_pop(L, 1);
    }
    qsort(names, (size_t)nk, sizeof *names, key_cmp);
    pa_buf_addc(e->b, '{');
    for (lua_Integer i = 0; i < nk; i++) {
        if (i)
            pa_buf_addc(e->b, ',');
        newline(e, depth + 1);
        pa_buf_json_string(e->b, names[i], strlen(names[i]));
        pa_buf_adds(e->b, e->indent ? ": " : ":");
        lua_getfield(L, idx, names[i]);
        if (lua_isnil(L, -1)) {     /* a number key: look it up as a number */
            lua_pop(L, 1);
            lua_pushstring(L, names[i]);
            if (lua_stringtonumber(L, names[i]))
                lua_remove(L, -2);
            lua_gettable(L, idx);
        }
        enc_value(e, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
    }
    if (nk)
        newline(e, depth);
    pa_buf_addc(e->b, '}');
    lua_pop(L, 2);
}

static void enc_table(jenc *e, int idx, int depth)
{
    lua_State *L = e->L;
    lua_Integer n;
    if (!is_array(L, idx, &n)) {
        enc_object(e, idx, depth);
        return;
    }
    pa_buf_addc(e->b, '[');
    for (lua_Integer i = 1; i <= n; i++) {
        if (i > 1)
            pa_buf_addc(e->b, ',');
        newline(e, depth + 1);
        lua_rawgeti(L, idx, i);
        enc_value(e, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
    }
    if (n)
        newline(e, depth);
    pa_buf_addc(e->b, ']');
}

static void enc_value(jenc *e, int idx, int depth)
{
    lua_State *L = e->L;
    if (depth > PA_JSON_MAX_DEPTH)
        luaL_error(L, "peeka.json.encode: nested deeper than %d levels (a table that contains itself?)",
                   PA_JSON_MAX_DEPTH);
    luaL_checkstack(L, 8, "JSON nesting");
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        pa_buf_adds(e->b, "null");
        return;
    case LUA_TBOOLEAN:
        pa_buf_adds(e->b, lua_toboolean(L, idx) ? "true" : "false");
        return;
    case LUA_TNUMBER:
        enc_number(e->b, L, idx);
        return;
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        pa_buf_json_string(e->b, s, n);
        return;
    }
    case LUA_TTABLE:
        enc_table(e, idx, depth);
        return;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL) {
            pa_buf_adds(e->b, "null");
            return;
        }
        break;
    case LUA_TUSERDATA:
        if (luaL_testudata(L, idx, "peeka.record")) {   /* a record is its line */
            lua_getfield(L, idx, "json");
            lua_pushvalue(L, idx);
            lua_call(L, 1, 1);
            size_t n;
            const char *s = lua_tolstring(L, -1, &n);
            pa_buf_add(e->b, s, n);
            lua_pop(L, 1);
            return;
        }
        break;
    default:
        break;
    }
    luaL_error(L, "peeka.json.encode: cannot encode a %s", luaL_typename(L, idx));
}

static int l_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    int indent = 0;
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "indent");
        indent = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : lua_toboolean(L, -1) ? 2 : 0;
        lua_pop(L, 1);
    }
    pa_buf *b = pa_lbuf_new(L);
    jenc e = {L, b, indent < 0 ? 0 : indent > 16 ? 16 : indent};
    enc_value(&e, 1, 0);
    if (b->oom)
        return luaL_error(L, "peeka.json.encode: out of memory");
    lua_pushlstring(L, b->p ? b->p : "", b->len);
    return 1;
}

/* peeka.json.array(t): marks t so that it encodes as [] even when empty. */
static int l_array(lua_State *L)
{
    if (lua_isnoneornil(L, 1))
        lua_newtable(L);
    else
        luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    luaL_setmetatable(L, ARRAY_MT);
    return 1;
}

void pa_open_json(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"decode", l_decode}, {"encode", l_encode}, {"array", l_array}, {NULL, NULL}};
    luaL_newmetatable(L, ARRAY_MT);
    lua_pop(L, 1);
    luaL_newlib(L, fns);
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    lua_setfield(L, -2, "json");
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
}
