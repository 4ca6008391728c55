/* Statistics for Lua: peeka.stats() (count/sum/mean/min/max/stddev,
 * percentiles), peeka.group() (stats per key), peeka.counter() (counts per
 * key), peeka.mannwhitney(a, b), peeka.welch(a, b), peeka.t_quantile and peeka.t_cdf.  All of it in C: these run per record. */
#include "runtime.h"
#include "stats.h"
#include "tdist.h"
#include "util.h"

#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define STATS_MT "peeka.stats"
#define GROUP_MT "peeka.group"
#define COUNTER_MT "peeka.counter"

static int mode_arg(lua_State *L, int idx)
{
    const char *const names[] = {"hybrid", "exact", "histogram", NULL};
    if (lua_istable(L, idx)) {
        lua_getfield(L, idx, "mode");
        int m = luaL_checkoption(L, -1, "hybrid", names);
        lua_pop(L, 1);
        return m;
    }
    return luaL_checkoption(L, idx, "hybrid", names);
}

static pa_stats *stats_new(lua_State *L, int mode)
{
    pa_stats *s = lua_newuserdatauv(L, sizeof *s, 0);
    pa_stats_init(s, mode);
    luaL_setmetatable(L, STATS_MT);
    return s;
}

static pa_stats *check_stats(lua_State *L, int idx)
{
    return luaL_checkudata(L, idx, STATS_MT);
}

static int l_stats(lua_State *L)
{
    stats_new(L, mode_arg(L, 1));
    return 1;
}

static void stats_add_value(lua_State *L, pa_stats *s, int idx)
{
    int isnum;
    double v = lua_tonumberx(L, idx, &isnum);
    if (!isnum)
        luaL_error(L, "stats:add expects a number, got a %s", luaL_typename(L, idx));
    if (pa_stats_add(s, v) < 0)
        luaL_error(L, "stats:add: out of memory");
}

static int s_add(lua_State *L)
{
    pa_stats *s = check_stats(L, 1);
    stats_add_value(L, s, 2);
    return 0;
}

static void push_num(lua_State *L, double v)
{
    if (v == floor(v) && fabs(v) < 9e15)
        lua_pushinteger(L, (lua_Integer)v);
    else
        lua_pushnumber(L, v);
}

static int s_count(lua_State *L) { lua_pushinteger(L, (lua_Integer)check_stats(L, 1)->n); return 1; }
static int s_sum(lua_State *L) { push_num(L, check_stats(L, 1)->sum); return 1; }

static int s_mean(lua_State *L)
{
    pa_stats *s = check_stats(L, 1);
    if (s->n == 0)
        return 0;
    lua_pushnumber(L, s->sum / (double)s->n);
    return 1;
}

static int s_min(lua_State *L)
{
    pa_stats *s = check_stats(L, 1);
    if (s->n == 0)
        return 0;
    push_num(L, s->min);
    return 1;
}

static int s_max(lua_State *L)
{
    pa_stats *s = check_stats(L, 1);
    if (s->n == 0)
        return 0;
    push_num(L, s->max);
    return 1;
}

static int s_stddev(lua_State *L)
{
    lua_pushnumber(L, pa_stats_stddev(check_stats(L, 1)));
    return 1;
}

static int s_percentile(lua_State *L)
{
    pa_stats *s = check_stats(L, 1);
    double p = luaL_checknumber(L, 2);
    luaL_argcheck(L, p >= 0 && p <= 100, 2, "a percentile is between 0 and 100");
    if (s->n == 0)
        return 0;
    push_num(L, pa_stats_percentile(s, p));
    return 1;
}

static int s_exact(lua_State *L)
{
    lua_pushboolean(L, pa_stats_is_exact(check_stats(L, 1)));
    return 1;
}

static int s_merge(lua_State *L)
{
    pa_stats *d = check_stats(L, 1), *s = check_stats(L, 2);
    if (pa_stats_merge(d, s) < 0)
        return luaL_error(L, "stats:merge: out of memory");
    lua_settop(L, 1);
    return 1;
}

/* stats:summary() -> {count, sum, mean, min, max, stddev, p50, p90, p95, p99} */
static int s_summary(lua_State *L)
{
    pa_stats *s = check_stats(L, 1);
    static const double ps[] = {50, 90, 95, 99};
    static const char *const pn[] = {"p50", "p90", "p95", "p99"};
    lua_createtable(L, 0, 11);
    lua_pushinteger(L, (lua_Integer)s->n);
    lua_setfield(L, -2, "count");
    if (s->n == 0)
        return 1;
    push_num(L, s->sum);
    lua_setfield(L, -2, "sum");
    lua_pushnumber(L, s->sum / (double)s->n);
    lua_setfield(L, -2, "mean");
    push_num(L, s->min);
    lua_setfield(L, -2, "min");
    push_num(L, s->max);
    lua_setfield(L, -2, "max");
    lua_pushnumber(L, pa_stats_stddev(s));
    lua_setfield(L, -2, "stddev");
    for (int i = 0; i < 4; i++) {
        push_num(L, pa_stats_percentile(s, ps[i]));
        lua_setfield(L, -2, pn[i]);
    }
    lua_pushboolean(L, pa_stats_is_exact(s));
    lua_setfield(L, -2, "exact");
    return 1;
}

/* stats:buckets() -> {{lo=, hi=, count=}, ...} by powers of two. */
static int s_buckets(lua_State *L)
{
    pa_stats *s = check_stats(L, 1);
    pa_keycount *kc;
    long n = pa_stats_keys(s, 0, &kc);
    if (n < 0)
        return luaL_error(L, "stats:buckets: out of memory");
    lua_newtable(L);
    lua_Integer k = 0;
    double cur_lo = NAN;
    for (long i = 0; i < n; i++) {
        double v = kc[i].key, lo, hi;
        if (v <= 0) {
            lo = hi = v;
        } else {
            int e;
            frexp(v, &e);
            lo = ldexp(1, e - 1);
            hi = ldexp(1, e);
        }
        if (k == 0 || lo != cur_lo) {
            lua_createtable(L, 0, 3);
            push_num(L, lo);
            lua_setfield(L, -2, "lo");
            push_num(L, hi);
            lua_setfield(L, -2, "hi");
            lua_pushinteger(L, 0);
            lua_setfield(L, -2, "count");
            lua_rawseti(L, -2, ++k);
            cur_lo = lo;
        }
        lua_rawgeti(L, -1, k);
        lua_getfield(L, -1, "count");
        lua_Integer c = lua_tointeger(L, -1) + (lua_Integer)kc[i].count;
        lua_pop(L, 1);
        lua_pushinteger(L, c);
        lua_setfield(L, -2, "count");
        lua_pop(L, 1);
    }
    free(kc);
    return 1;
}

static int s_gc(lua_State *L)
{
    pa_stats_free(check_stats(L, 1));
    return 0;
}

static int s_tostring(lua_State *L)
{
    pa_stats *s = check_stats(L, 1);
    lua_pushfstring(L, "peeka.stats(count=%I)", (lua_Integer)s->n);
    return 1;
}

static int s_len(lua_State *L)
{
    return s_count(L);
}

/* peeka.mannwhitney(a, b) -> {u, z, p, ps}: two-sided, tie-corrected. */
static int l_mannwhitney(lua_State *L)
{
    pa_stats *a = check_stats(L, 1), *b = check_stats(L, 2);
    pa_mwu r;
    if (a->n == 0 || b->n == 0)
        return luaL_error(L, "peeka.mannwhitney: both samples need at least one value");
    if (pa_stats_mwu(a, b, &r) < 0)
        return luaL_error(L, "peeka.mannwhitney: out of memory");
    lua_createtable(L, 0, 4);
    lua_pushnumber(L, r.u);
    lua_setfield(L, -2, "u");
    lua_pushnumber(L, r.z);
    lua_setfield(L, -2, "z");
    lua_pushnumber(L, r.p);
    lua_setfield(L, -2, "p");
    lua_pushnumber(L, r.ps);
    lua_setfield(L, -2, "ps");
    return 1;
}

/* peeka.welch(a, b) -> {diff, se, t, df, p}: Welch's two-sided t test. */
static int l_welch(lua_State *L)
{
    pa_stats *a = check_stats(L, 1), *b = check_stats(L, 2);
    pa_welch r;
    if (pa_welch_test(a, b, &r) < 0)
        return luaL_error(L, "peeka.welch: both samples need at least two values (have %I and %I)",
                          (lua_Integer)a->n, (lua_Integer)b->n);
    lua_createtable(L, 0, 5);
    const struct { const char *name; double v; } f[] = {
        {"diff", r.diff}, {"se", r.se}, {"t", r.t}, {"df", r.df}, {"p", r.p}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        lua_pushnumber(L, f[i].v);
        lua_setfield(L, -2, f[i].name);
    }
    return 1;
}

/* peeka.t_quantile(p, df): the quantile of Student's t distribution. */
static int l_t_quantile(lua_State *L)
{
    double p = luaL_checknumber(L, 1), df = luaL_checknumber(L, 2);
    if (!(p > 0 && p < 1) || !(df > 0))
        return luaL_error(L, "peeka.t_quantile: need 0 < p < 1 and df > 0 (got p=%f, df=%f)", p, df);
    lua_pushnumber(L, pa_t_quantile(p, df));
    return 1;
}

/* peeka.t_cdf(t, df): P(T <= t) for Student's t distribution. */
static int l_t_cdf(lua_State *L)
{
    double t = luaL_checknumber(L, 1), df = luaL_checknumber(L, 2);
    if (!(df > 0))
        return luaL_error(L, "peeka.t_cdf: need df > 0 (got %f)", df);
    lua_pushnumber(L, pa_t_cdf(t, df));
    return 1;
}

/* ---- groups: stats per key --------------------------------------------- */

typedef struct {
    int mode;
    lua_Integer ngroups;
} pa_group;

static int l_group(lua_State *L)
{
    int mode = mode_arg(L, 1);
    pa_group *g = lua_newuserdatauv(L, sizeof *g, 1);
    g->mode = mode;
    g->ngroups = 0;
    lua_newtable(L);
    lua_setiuservalue(L, -2, 1);
    luaL_setmetatable(L, GROUP_MT);
    return 1;
}

/* Pushes the stats of key (stack idx), creating it when create is set. */
static pa_stats *group_stats(lua_State *L, pa_group *g, int key, int create)
{
    lua_getiuservalue(L, 1, 1);
    lua_pushvalue(L, key);
    if (lua_rawget(L, -2) == LUA_TUSERDATA) {
        lua_remove(L, -2);
        return lua_touserdata(L, -1);
    }
    lua_pop(L, 1);
    if (!create) {
        lua_pop(L, 1);
        return NULL;
    }
    if (lua_isnil(L, key) || (lua_type(L, key) == LUA_TNUMBER && isnan(lua_tonumber(L, key))))
        luaL_error(L, "group:add: the key is nil or NaN");
    lua_pushvalue(L, key);
    pa_stats *s = stats_new(L, g->mode);
    lua_pushvalue(L, -1);
    lua_insert(L, -4);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    g->ngroups++;
    return s;
}

static int g_add(lua_State *L)
{
    pa_group *g = luaL_checkudata(L, 1, GROUP_MT);
    luaL_checkany(L, 3);
    pa_stats *s = group_stats(L, g, 2, 1);
    stats_add_value(L, s, 3);
    return 0;
}

static int g_get(lua_State *L)
{
    pa_group *g = luaL_checkudata(L, 1, GROUP_MT);
    luaL_checkany(L, 2);
    if (!group_stats(L, g, 2, 0))
        lua_pushnil(L);
    return 1;
}

/* Orders keys of mixed types: numbers before strings, each by value. */
static int key_less(lua_State *L)
{
    int ta = lua_type(L, 1), tb = lua_type(L, 2);
    if (ta != tb)
        lua_pushboolean(L, ta < tb);
    else if (ta == LUA_TNUMBER || ta == LUA_TSTRING)
        lua_pushboolean(L, lua_compare(L, 1, 2, LUA_OPLT));
    else
        lua_pushboolean(L, 0);
    return 1;
}

/* Sorted array of the keys of the table at idx (uses the real table.sort). */
static void sorted_keys(lua_State *L, int idx)
{
    lua_newtable(L);
    int out = lua_gettop(L);
    lua_Integer n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_rawseti(L, out, ++n);
    }
    if (n < 2)
        return;
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, LUA_TABLIBNAME);
    lua_getfield(L, -1, "sort");
    lua_pushvalue(L, out);
    lua_pushcfunction(L, key_less);
    lua_call(L, 2, 0);
    lua_pop(L, 2);
}

static int g_keys(lua_State *L)
{
    luaL_checkudata(L, 1, GROUP_MT);
    lua_getiuservalue(L, 1, 1);
    sorted_keys(L, lua_gettop(L));
    return 1;
}

static int g_each_step(lua_State *L)
{
    lua_Integer i = lua_tointeger(L, lua_upvalueindex(3)) + 1;
    lua_pushinteger(L, i);
    lua_replace(L, lua_upvalueindex(3));
    if (lua_rawgeti(L, lua_upvalueindex(2), i) == LUA_TNIL)
        return 0;
    lua_pushvalue(L, -1);
    lua_rawget(L, lua_upvalueindex(1));
    return 2;
}

/* for key, stats in g:each() do ... end   (keys in sorted order) */
static int g_each(lua_State *L)
{
    luaL_checkudata(L, 1, GROUP_MT);
    lua_getiuservalue(L, 1, 1);
    sorted_keys(L, lua_gettop(L));
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, g_each_step, 3);
    return 1;
}

static int g_len(lua_State *L)
{
    pa_group *g = luaL_checkudata(L, 1, GROUP_MT);
    lua_pushinteger(L, g->ngroups);
    return 1;
}

/* ---- counters: integer counts per key ------------------------------------ */

static int l_counter(lua_State *L)
{
    lua_newuserdatauv(L, 1, 1);
    lua_newtable(L);
    lua_setiuservalue(L, -2, 1);
    luaL_setmetatable(L, COUNTER_MT);
    return 1;
}

static int c_add(lua_State *L)
{
    luaL_checkudata(L, 1, COUNTER_MT);
    luaL_checkany(L, 2);
    if (lua_isnil(L, 2))
        return luaL_error(L, "counter:add: the key is nil");
    lua_Integer by = luaL_optinteger(L, 3, 1);
    lua_getiuservalue(L, 1, 1);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 2);
    lua_Integer cur = lua_rawget(L, -3) == LUA_TNUMBER ? lua_tointeger(L, -1) : 0;
    lua_pop(L, 1);
    lua_pushinteger(L, cur + by);
    lua_rawset(L, -3);
    return 0;
}

static int c_get(lua_State *L)
{
    luaL_checkudata(L, 1, COUNTER_MT);
    lua_getiuservalue(L, 1, 1);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, -2) == LUA_TNIL)
        lua_pushinteger(L, 0);
    return 1;
}

static int c_keys(lua_State *L)
{
    luaL_checkudata(L, 1, COUNTER_MT);
    lua_getiuservalue(L, 1, 1);
    sorted_keys(L, lua_gettop(L));
    return 1;
}

static int c_table(lua_State *L)
{
    luaL_checkudata(L, 1, COUNTER_MT);
    lua_getiuservalue(L, 1, 1);
    return 1;
}

static int c_total(lua_State *L)
{
    luaL_checkudata(L, 1, COUNTER_MT);
    lua_getiuservalue(L, 1, 1);
    lua_Integer t = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        t += lua_tointeger(L, -1);
        lua_pop(L, 1);
    }
    lua_pushinteger(L, t);
    return 1;
}

static void new_class(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction len,
                      lua_CFunction gc)
{
    luaL_newmetatable(L, name);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    if (len) {
        lua_pushcfunction(L, len);
        lua_setfield(L, -2, "__len");
    }
    if (gc) {
        lua_pushcfunction(L, gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
}

void pa_open_stats(lua_State *L)
{
    static const luaL_Reg stats_m[] = {
        {"add", s_add}, {"count", s_count}, {"sum", s_sum}, {"mean", s_mean}, {"min", s_min},
        {"max", s_max}, {"stddev", s_stddev}, {"percentile", s_percentile}, {"p", s_percentile},
        {"exact", s_exact}, {"merge", s_merge}, {"summary", s_summary}, {"buckets", s_buckets},
        {NULL, NULL}};
    static const luaL_Reg group_m[] = {
        {"add", g_add}, {"get", g_get}, {"keys", g_keys}, {"each", g_each}, {NULL, NULL}};
    static const luaL_Reg counter_m[] = {
        {"add", c_add}, {"get", c_get}, {"keys", c_keys}, {"table", c_table}, {"total", c_total},
        {NULL, NULL}};
    new_class(L, STATS_MT, stats_m, s_len, s_gc);
    luaL_getmetatable(L, STATS_MT);
    lua_pushcfunction(L, s_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
    new_class(L, GROUP_MT, group_m, g_len, NULL);
    new_class(L, COUNTER_MT, counter_m, NULL, NULL);
    lua_pushcfunction(L, l_stats);
    lua_setfield(L, -2, "stats");
    lua_pushcfunction(L, l_group);
    lua_setfield(L, -2, "group");
    lua_pushcfunction(L, l_counter);
    lua_setfield(L, -2, "counter");
    lua_pushcfunction(L, l_mannwhitney);
    lua_setfield(L, -2, "mannwhitney");
    lua_pushcfunction(L, l_welch);
    lua_setfield(L, -2, "welch");
    lua_pushcfunction(L, l_t_quantile);
    lua_setfield(L, -2, "t_quantile");
    lua_pushcfunction(L, l_t_cdf);
    lua_setfield(L, -2, "t_cdf");
}
