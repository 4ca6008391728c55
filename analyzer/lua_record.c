/* Record userdata: see lua_record.h.  The line is copied into the userdata
 * so a script may keep records (slowest N) after the reader moved on. */
#include "lua_record.h"
#include "runtime.h"

#include <lauxlib.h>
#include <string.h>

typedef struct {
    uint32_t len;
    uint16_t nf;
    uint16_t archive;
    int16_t slot[PS_COUNT];
    pa_field f[];               /* nf fields, then the line */
} pa_rec;

#define REC_LINE(r) ((const char *)((r)->f + (r)->nf))

void pa_push_record(lua_State *L, const pa_recview *v, int archive, int mt)
{
    size_t fsz = (size_t)v->nf * sizeof(pa_field);
    mt = lua_absindex(L, mt);
    pa_rec *r = lua_newuserdatauv(L, sizeof(pa_rec) + fsz + v->len, 1);
    r->len = (uint32_t)v->len;
    r->nf = (uint16_t)v->nf;
    r->archive = (uint16_t)archive;
    memcpy(r->slot, v->slot, sizeof r->slot);
    memcpy(r->f, v->f, fsz);
    memcpy((char *)REC_LINE(r), v->line, v->len);
    lua_pushvalue(L, mt);
    lua_setmetatable(L, -2);
}

static void push_string_field(lua_State *L, const char *line, const pa_field *f)
{
    if (!(f->flags & PA_JF_VESC)) {
        lua_pushlstring(L, line + f->voff, f->vlen);
        return;
    }
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, f->vlen ? f->vlen : 1);
    long n = pa_json_unescape(line + f->voff, f->vlen, out);
    luaL_pushresultsize(&b, n < 0 ? 0 : (size_t)n);
}

/* Pushes field i of r (idx: the record on the stack). */
static void push_field(lua_State *L, int idx, pa_rec *r, int i)
{
    const pa_field *f = &r->f[i];
    const char *line = REC_LINE(r);
    switch (f->type) {
    case PA_J_STR:
        push_string_field(L, line, f);
        return;
    case PA_J_NUM: {
        int64_t n;
        if ((f->flags & PA_JF_INT) && pa_json_int(line + f->voff, f->vlen, &n))
            lua_pushinteger(L, (lua_Integer)n);
        else
            lua_pushnumber(L, pa_json_double(line + f->voff, f->vlen));
        return;
    }
    case PA_J_TRUE: lua_pushboolean(L, 1); return;
    case PA_J_FALSE: lua_pushboolean(L, 0); return;
    case PA_J_NULL: lua_pushnil(L); return;
    default:
        break;
    }
    /* Objects and arrays: decoded once, cached in the user value. */
    if (lua_getiuservalue(L, idx, 1) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 2);
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, idx, 1);
    }
    if (lua_rawgeti(L, -1, i + 1) != LUA_TNIL) {
        lua_remove(L, -2);
        return;
    }
    lua_pop(L, 1);
    const char *err;
    size_t off;
    if (pa_json_push(L, line + f->voff, f->vlen, &err, &off) < 0)
        pa_archive_error(L, r->archive, "field '%.*s' of a record is invalid JSON (%s at byte %zu)",
                         (int)f->klen, line + f->koff, err, (size_t)f->voff + off);
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, i + 1);
    lua_remove(L, -2);
}

static int rec_index(lua_State *L)
{
    pa_rec *r = lua_touserdata(L, 1);
    size_t kl;
    if (lua_type(L, 2) != LUA_TSTRING)
        return 0;
    const char *k = lua_tolstring(L, 2, &kl);
    /* The common fields first: no method has their names. */
    int s = pa_slot_of(k, kl), i;
    if (s >= 0) {
        i = r->slot[s];
    } else {
        lua_pushvalue(L, 2);
        if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
            return 1;
        lua_pop(L, 1);
        i = pa_field_find(REC_LINE(r), r->f, r->nf, k, kl);
    }
    if (i < 0)
        return 0;
    push_field(L, 1, r, i);
    return 1;
}

static int find_field(const pa_rec *r, const char *k, size_t kl)
{
    int s = pa_slot_of(k, kl);
    if (s >= 0)
        return r->slot[s];
    return pa_field_find(REC_LINE(r), r->f, r->nf, k, kl);
}

static pa_rec *check_rec(lua_State *L)
{
    return luaL_checkudata(L, 1, PA_RECORD_MT);
}

static int rec_json(lua_State *L)
{
    pa_rec *r = check_rec(L);
    lua_pushlstring(L, REC_LINE(r), r->len);
    return 1;
}

static int rec_table(lua_State *L)
{
    pa_rec *r = check_rec(L);
    const char *err;
    size_t off;
    if (pa_json_push(L, REC_LINE(r), r->len, &err, &off) < 0)
        return pa_archive_error(L, r->archive, "a record is invalid JSON (%s at byte %zu)", err, off);
    return 1;
}

static int rec_archive(lua_State *L)
{
    pa_rec *r = check_rec(L);
    pa_push_archive_info(L, r->archive);
    return 1;
}

static int rec_fields(lua_State *L)
{
    pa_rec *r = check_rec(L);
    lua_createtable(L, r->nf, 0);
    for (int i = 0; i < r->nf; i++) {
        pa_field key = {.voff = r->f[i].koff, .vlen = r->f[i].klen, .type = PA_J_STR,
                        .flags = (r->f[i].flags & PA_JF_KESC) ? PA_JF_VESC : 0};
        push_string_field(L, REC_LINE(r), &key);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int rec_has(lua_State *L)
{
    pa_rec *r = check_rec(L);
    size_t kl;
    const char *k = luaL_checklstring(L, 2, &kl);
    lua_pushboolean(L, find_field(r, k, kl) >= 0);
    return 1;
}

/* pairs(r): field names in line order. */
static int rec_next(lua_State *L)
{
    pa_rec *r = check_rec(L);
    int i = 0;
    if (!lua_isnil(L, 2)) {
        size_t kl;
        const char *k = luaL_checklstring(L, 2, &kl);
        i = pa_field_find(REC_LINE(r), r->f, r->nf, k, kl) + 1;
        if (i <= 0)
            return 0;
    }
    if (i >= r->nf)
        return 0;
    pa_field key = {.voff = r->f[i].koff, .vlen = r->f[i].klen, .type = PA_J_STR,
                    .flags = (r->f[i].flags & PA_JF_KESC) ? PA_JF_VESC : 0};
    push_string_field(L, REC_LINE(r), &key);
    push_field(L, 1, r, i);
    return 2;
}

static int rec_pairs(lua_State *L)
{
    check_rec(L);
    lua_pushcfunction(L, rec_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static int rec_tostring(lua_State *L)
{
    return rec_json(L);
}

void pa_open_record_mt(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"json", rec_json}, {"table", rec_table}, {"archive", rec_archive},
        {"fields", rec_fields}, {"has", rec_has}, {NULL, NULL}};
    luaL_newmetatable(L, PA_RECORD_MT);
    luaL_newlib(L, methods);
    lua_pushcclosure(L, rec_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, rec_pairs);
    lua_setfield(L, -2, "__pairs");
    lua_pushcfunction(L, rec_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "peeka.record");
    lua_setfield(L, -2, "__name");
    lua_pop(L, 1);
}
