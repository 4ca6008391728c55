/* peeka.records{...}: a cursor over one or more archives that applies the
 * prefilter in C and hands matching records to Lua; also peeka.filter{}
 * and the callback driver (on_start, on_<kind>, on_record, on_end). */
#include "archive_read.h"
#include "lua_record.h"
#include "prefilter.h"
#include "runtime.h"
#include "duration.h"
#include "util.h"

#include <lauxlib.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CURSOR_MT "peeka.cursor"

typedef struct pa_cursor {
    pa_rt *rt;
    pa_filter flt;
    int narch, ai;              /* archives to read (indices into arch) */
    int *arch;                  /* 1-based archive numbers */
    pa_ar *ar;
    int cur_archive;
    int closed;
    pa_field fields[PA_MAX_FIELDS];
} pa_cursor;

int pa_cursor_where(pa_cursor *c, char *buf, size_t len)
{
    if (!c || !c->ar)
        return 0;
    snprintf(buf, len, "%s: %s line %llu", c->rt->archives[c->cur_archive - 1],
             pa_ar_member(c->ar), (unsigned long long)pa_ar_line_no(c->ar));
    return 1;
}

static void cursor_release(pa_cursor *c)
{
    if (c->rt && c->rt->cur == c)
        c->rt->cur = NULL;
    pa_ar_close(c->ar);
    c->ar = NULL;
    pa_filter_free(&c->flt);
    free(c->arch);
    c->arch = NULL;
    c->closed = 1;
}

static int cursor_gc(lua_State *L)
{
    cursor_release(luaL_checkudata(L, 1, CURSOR_MT));
    return 0;
}

/* ---- filter specs ------------------------------------------------------ */

static const char *const FILTER_KEYS[] = {
    "kind", "func", "thread", "location", "min_cost", "max_cost", "min_cost_ns", "max_cost_ns",
    "since_ns", "until_ns", "from", "to", "probe", "errors", "archive", NULL};

static void strset_from(lua_State *L, int idx, const char *key, pa_strset *set)
{
    if (lua_type(L, idx) == LUA_TSTRING) {
        if (pa_strset_add(set, lua_tostring(L, idx)) < 0)
            luaL_error(L, "filter '%s': out of memory", key);
        return;
    }
    if (!lua_istable(L, idx))
        luaL_error(L, "filter '%s' must be a string or a list of strings, not a %s", key,
                   luaL_typename(L, idx));
    lua_Integer n = luaL_len(L, idx);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "filter '%s': item %d is a %s, expected a string", key, (int)i,
                       luaL_typename(L, -1));
        if (pa_strset_add(set, lua_tostring(L, -1)) < 0)
            luaL_error(L, "filter '%s': more than %d alternatives", key, PA_FILTER_MAXV);
        lua_pop(L, 1);
    }
}

/* A cost in ms (number) or a duration string ("10ms", "1.5s"). */
static int64_t cost_arg(lua_State *L, int idx, const char *key, double unit_ns)
{
    if (lua_type(L, idx) == LUA_TNUMBER)
        return (int64_t)(lua_tonumber(L, idx) * unit_ns);
    int64_t ns;
    if (lua_type(L, idx) == LUA_TSTRING && peeka_duration_ns(lua_tostring(L, idx), PEEKA_BARE_MS, &ns) == 0)
        return ns;
    luaL_error(L, "filter '%s' must be a number (%s) or a duration like \"10ms\"", key,
               unit_ns == 1e6 ? "ms" : unit_ns == 1e9 ? "seconds" : "ns");
    return 0;
}

static void set_archives(lua_State *L, pa_cursor *c, int idx)
{
    int n = c->rt->narchives;
    free(c->arch);
    c->arch = NULL;
    c->narch = 0;
    if (lua_isnil(L, idx)) {
        c->arch = malloc(sizeof *c->arch * (size_t)(n ? n : 1));
        if (!c->arch)
            luaL_error(L, "out of memory");
        for (int i = 0; i < n; i++)
            c->arch[i] = i + 1;
        c->narch = n;
        return;
    }
    int m = lua_isinteger(L, idx) ? 1 : lua_istable(L, idx) ? (int)luaL_len(L, idx) : -1;
    if (m < 0) {
        luaL_error(L, "filter 'archive' must be an archive number or a list of them");
        return;
    }
    c->arch = malloc(sizeof *c->arch * (size_t)(m ? m : 1));
    if (!c->arch)
        luaL_error(L, "out of memory");
    for (int i = 0; i < m; i++) {
        lua_Integer a;
        if (lua_isinteger(L, idx)) {
            a = lua_tointeger(L, idx);
        } else {
            lua_rawgeti(L, idx, i + 1);
            a = lua_tointeger(L, -1);
            lua_pop(L, 1);
        }
        if (a < 1 || a > n)
            luaL_error(L, "filter 'archive': %d is not an archive number (1..%d)", (int)a, n);
        c->arch[c->narch++] = (int)a;
    }
}

static int known_filter_key(const char *k)
{
    for (int i = 0; FILTER_KEYS[i]; i++)
        if (strcmp(FILTER_KEYS[i], k) == 0)
            return 1;
    return 0;
}

/* Reads a filter table at idx into c (nil: no filter). */
static void parse_filter(lua_State *L, int idx, pa_cursor *c)
{
    pa_filter *f = &c->flt;
    if (lua_isnoneornil(L, idx)) {
        set_archives(L, c, idx);
        return;
    }
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING || !known_filter_key(lua_tostring(L, -2)))
            luaL_error(L, "unknown record filter '%s' (known: kind, func, thread, location, "
                          "min_cost, max_cost, min_cost_ns, max_cost_ns, since_ns, until_ns, "
                          "from, to, probe, errors, archive)",
                       lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : luaL_typename(L, -2));
        lua_pop(L, 1);
    }
    lua_getfield(L, idx, "archive");
    set_archives(L, c, lua_gettop(L));
    lua_pop(L, 1);
#define FIELD(name) (lua_getfield(L, idx, name) != LUA_TNIL)
    if (FIELD("kind"))
        strset_from(L, -1, "kind", &f->kind);
    lua_pop(L, 1);
    if (FIELD("func"))
        strset_from(L, -1, "func", &f->func);
    lua_pop(L, 1);
    if (FIELD("location"))
        strset_from(L, -1, "location", &f->location);
    lua_pop(L, 1);
    if (FIELD("thread")) {
        if (lua_isinteger(L, -1)) {
            f->has_thread_id = 1;
            f->thread_id = lua_tointeger(L, -1);
        } else {
            strset_from(L, -1, "thread", &f->thread);
        }
    }
    lua_pop(L, 1);
    if (FIELD("min_cost")) {
        f->has_min_cost = 1;
        f->min_cost_ns = cost_arg(L, -1, "min_cost", 1e6);
    }
    lua_pop(L, 1);
    if (FIELD("max_cost")) {
        f->has_max_cost = 1;
        f->max_cost_ns = cost_arg(L, -1, "max_cost", 1e6);
    }
    lua_pop(L, 1);
    if (FIELD("min_cost_ns")) {
        f->has_min_cost = 1;
        f->min_cost_ns = cost_arg(L, -1, "min_cost_ns", 1);
    }
    lua_pop(L, 1);
    if (FIELD("max_cost_ns")) {
        f->has_max_cost = 1;
        f->max_cost_ns = cost_arg(L, -1, "max_cost_ns", 1);
    }
    lua_pop(L, 1);
    if (FIELD("since_ns")) {
        f->has_since = 1;
        f->since_ns = luaL_checkinteger(L, -1);
    }
    lua_pop(L, 1);
    if (FIELD("until_ns")) {
        f->has_until = 1;
        f->until_ns = luaL_checkinteger(L, -1);
    }
    lua_pop(L, 1);
    if (FIELD("from")) {
        f->has_from = 1;
        f->from_s = (double)cost_arg(L, -1, "from", 1e9) / 1e9;
    }
    lua_pop(L, 1);
    if (FIELD("to")) {
        f->has_to = 1;
        f->to_s = (double)cost_arg(L, -1, "to", 1e9) / 1e9;
    }
    lua_pop(L, 1);
    if (FIELD("probe")) {
        f->has_probe = 1;
        f->probe_id = luaL_checkinteger(L, -1);
    }
    lua_pop(L, 1);
    if (FIELD("errors")) {
        if (!lua_isboolean(L, -1))
            luaL_error(L, "filter 'errors' must be true (failing calls) or false (successful calls)");
        f->has_errors = 1;
        f->errors = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
#undef FIELD
}

/* ---- reading ----------------------------------------------------------- */

static void warn_incomplete(pa_rt *rt, int a, const char *why, unsigned long long n)
{
    if (rt->quiet || rt->warned[a - 1])
        return;
    rt->warned[a - 1] = 1;
    fprintf(stderr, "peeka-analyze: warning: %s is incomplete: %s; analysing the %llu records it holds\n",
            rt->archives[a - 1], why, n);
}

/* Records what the end of an archive told us in peeka.archives[a]. */
static void finish_archive(lua_State *L, pa_cursor *c)
{
    int a = c->cur_archive;
    const char *why = pa_ar_incomplete(c->ar);
    size_t slen;
    const char *sum = pa_ar_summary(c->ar, &slen);
    pa_push_archive_info(L, a);
    lua_pushinteger(L, (lua_Integer)pa_ar_lines(c->ar));
    lua_setfield(L, -2, "records");
    lua_pushboolean(L, why == NULL);
    lua_setfield(L, -2, "complete");
    if (why)
        lua_pushstring(L, why);
    else
        lua_pushnil(L);
    lua_setfield(L, -2, "incomplete");
    const char *err;
    size_t off;
    if (sum && pa_json_push(L, sum, slen, &err, &off) == 0)
        lua_setfield(L, -2, "summary");
    lua_pop(L, 1);
    if (why)
        warn_incomplete(c->rt, a, why, (unsigned long long)pa_ar_lines(c->ar));
    if (c->rt->cur == c)
        c->rt->cur = NULL;
    pa_ar_close(c->ar);
    c->ar = NULL;
}

static int64_t session_start(lua_State *L, int a, int *ok)
{
    pa_push_archive_info(L, a);
    lua_getfield(L, -1, "session");
    int64_t v = 0;
    *ok = 0;
    if (lua_istable(L, -1) && lua_getfield(L, -1, "start_ns") == LUA_TNUMBER && lua_isinteger(L, -1)) {
        v = lua_tointeger(L, -1);
        *ok = 1;
    }
    lua_pop(L, lua_istable(L, -1) ? 2 : 3);
    return v;
}

static void open_next(lua_State *L, pa_cursor *c)
{
    int a = c->arch[c->ai++];
    char err[600];
    c->cur_archive = a;
    c->ar = pa_ar_open(c->rt->archives[a - 1], err, sizeof err);
    if (!c->ar)
        pa_archive_error(L, a, "%s", err);
    int ok;
    int64_t start = session_start(L, a, &ok);
    pa_filter_set_start(&c->flt, start, ok);
}

/* Pushes the next matching record and returns 1, or returns 0 at the end. */
static int cursor_step(lua_State *L, pa_cursor *c, int mt, pa_recview *out)
{
    for (;;) {
        if (!c->ar) {
            if (c->closed || c->ai >= c->narch) {
                c->closed = 1;
                return 0;
            }
            open_next(L, c);
        }
        const char *line;
        size_t len;
        int rc = pa_ar_next(c->ar, &line, &len);
        if (rc == PA_AR_END) {
            finish_archive(L, c);
            continue;
        }
        if (rc == PA_AR_CORRUPT)
            return pa_archive_error(L, c->cur_archive, "%s", pa_ar_error(c->ar));
        c->rt->cur = c;
        pa_jerr je;
        int nf = pa_scan_object(line, len, c->fields, PA_MAX_FIELDS, &je);
        if (nf < 0)
            return pa_archive_error(L, c->cur_archive, "%s line %llu is not valid JSON: %s at byte %zu",
                                    pa_ar_member(c->ar), (unsigned long long)pa_ar_line_no(c->ar),
                                    je.msg, je.off);
        pa_recview_init(out, line, len, c->fields, nf);
        if (!pa_filter_match(&c->flt, out))
            continue;
        pa_push_record(L, out, c->cur_archive, mt);
        return 1;
    }
}

static int records_iter(lua_State *L)
{
    pa_cursor *c = lua_touserdata(L, lua_upvalueindex(1));
    pa_recview v;
    return cursor_step(L, c, lua_upvalueindex(2), &v);
}

static pa_cursor *cursor_new(lua_State *L, int filter_idx)
{
    pa_cursor *c = lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, offsetof(pa_cursor, fields));
    c->rt = pa_rt_get(L);
    pa_filter_init(&c->flt);
    luaL_setmetatable(L, CURSOR_MT);
    parse_filter(L, filter_idx, c);
    return c;
}

/* for r in peeka.records{...} do ... end */
static int l_records(lua_State *L)
{
    if (!lua_isnoneornil(L, 1))
        luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    cursor_new(L, 1);
    lua_pushvalue(L, -1);
    luaL_getmetatable(L, PA_RECORD_MT);
    lua_pushcclosure(L, records_iter, 2);
    lua_pushnil(L);
    lua_pushnil(L);
    lua_pushvalue(L, -4);       /* the cursor closes when the loop ends */
    return 4;
}

/* peeka.filter{...}: the prefilter of the record callbacks. */
static int l_filter(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    cursor_new(L, 1);           /* validates now, errors point at the call */
    lua_pushvalue(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "peeka.callback_filter");
    return 0;
}

/* ---- callbacks ---------------------------------------------------------- */

enum { CB_RECORD, CB_WATCH, CB_TRACE, CB_STACK, CB_MONITOR, CB_N };
static const char *const CB_NAMES[CB_N] = {"on_record", "on_watch", "on_trace", "on_stack", "on_monitor"};

static int callback_for(const pa_recview *v, const int *have)
{
    char buf[16];
    const char *k;
    size_t n;
    if (pa_rec_str(v, PS_KIND, buf, sizeof buf, &k, &n)) {
        for (int i = 1; i < CB_N; i++)
            if (have[i] && strlen(CB_NAMES[i]) - 3 == n && memcmp(CB_NAMES[i] + 3, k, n) == 0)
                return i;
    }
    return have[CB_RECORD] ? CB_RECORD : -1;
}

static int is_function(lua_State *L, const char *name)
{
    int t = lua_getglobal(L, name);
    lua_pop(L, 1);
    return t == LUA_TFUNCTION;
}

static void call_global(lua_State *L, const char *name, int archive)
{
    if (lua_getglobal(L, name) != LUA_TFUNCTION) {
        lua_pop(L, 1);
        return;
    }
    if (archive > 0)
        pa_push_archive_info(L, archive);
    lua_call(L, archive > 0 ? 1 : 0, 0);
}

static void drive_archive(lua_State *L, int a, const int *have, int base)
{
    lua_getfield(L, LUA_REGISTRYINDEX, "peeka.callback_filter");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
    }
    lua_pushinteger(L, a);
    lua_setfield(L, -2, "archive");
    pa_cursor *c = cursor_new(L, lua_gettop(L));
    int mt = lua_gettop(L) + 1;
    luaL_getmetatable(L, PA_RECORD_MT);
    pa_recview v;
    while (cursor_step(L, c, mt, &v)) {
        int cb = callback_for(&v, have);
        if (cb < 0) {
            lua_pop(L, 1);
            continue;
        }
        lua_pushvalue(L, base + cb);
        lua_insert(L, -2);
        lua_call(L, 1, 0);
    }
    cursor_release(c);
    lua_pop(L, 3);
}

int pa_drive_callbacks(lua_State *L)
{
    pa_rt *rt = pa_rt_get(L);
    int have[CB_N], any = 0;
    int base = lua_gettop(L) + 1;
    for (int i = 0; i < CB_N; i++) {
        lua_getglobal(L, CB_NAMES[i]);
        have[i] = lua_isfunction(L, -1);
        any |= have[i];
    }
    int hooks = is_function(L, "on_start") || is_function(L, "on_end") ||
                is_function(L, "on_archive_end");
    if (!any && !hooks) {
        lua_settop(L, base - 1);
        return 0;
    }
    for (int a = 1; a <= rt->narchives; a++) {
        call_global(L, "on_start", a);
        if (any)
            drive_archive(L, a, have, base);
        call_global(L, "on_archive_end", a);
    }
    call_global(L, "on_end", 0);
    lua_settop(L, base - 1);
    return 0;
}

void pa_open_records(lua_State *L)
{
    luaL_newmetatable(L, CURSOR_MT);
    lua_pushcfunction(L, cursor_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, cursor_gc);
    lua_setfield(L, -2, "__close");
    lua_pop(L, 1);
    pa_open_record_mt(L);
    lua_pushcfunction(L, l_records);
    lua_setfield(L, -2, "records");
    lua_pushcfunction(L, l_filter);
    lua_setfield(L, -2, "filter");
}
