/* Small helpers of the peeka library: formatting, failing a check,
 * warnings, writing files, globbing; and the error helpers of runtime.h. */
#include "prefilter.h"
#include "runtime.h"
#include "duration.h"
#include "util.h"

#include <errno.h>
#include <lauxlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LBUF_MT "peeka.buffer"

static int lbuf_gc(lua_State *L)
{
    pa_buf_free(luaL_checkudata(L, 1, LBUF_MT));
    return 0;
}

pa_buf *pa_lbuf_new(lua_State *L)
{
    pa_buf *b = lua_newuserdatauv(L, sizeof *b, 0);
    memset(b, 0, sizeof *b);
    if (luaL_newmetatable(L, LBUF_MT)) {
        lua_pushcfunction(L, lbuf_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return b;
}

int pa_archive_error(lua_State *L, int archive, const char *fmt, ...)
{
    pa_rt *rt = pa_rt_get(L);
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rt->archive_error = 1;
    if (archive >= 1 && archive <= rt->narchives)
        lua_pushfstring(L, "%s: %s", rt->archives[archive - 1], msg);
    else
        lua_pushstring(L, msg);
    return lua_error(L);
}

int pa_usage_error(lua_State *L, const char *fmt, ...)
{
    pa_rt *rt = pa_rt_get(L);
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rt->usage_error = 1;
    lua_pushstring(L, msg);
    return lua_error(L);
}

static double num_arg(lua_State *L, int idx, const char *fn)
{
    int ok;
    double v = lua_tonumberx(L, idx, &ok);
    if (!ok)
        luaL_error(L, "%s expects a number, got a %s", fn, luaL_typename(L, idx));
    return v;
}

/* peeka.duration(ns) -> "125.3ms" */
static int l_duration(lua_State *L)
{
    char buf[64];
    if (lua_isnil(L, 1)) {
        lua_pushliteral(L, "-");
        return 1;
    }
    pa_fmt_duration(num_arg(L, 1, "peeka.duration"), buf, sizeof buf);
    lua_pushstring(L, buf);
    return 1;
}

/* peeka.ms(ns) -> "125.3" (milliseconds, Peeka's unit, no suffix) */
static int l_ms(lua_State *L)
{
    char buf[64];
    double ms = num_arg(L, 1, "peeka.ms") / 1e6;
    double a = ms < 0 ? -ms : ms;
    snprintf(buf, sizeof buf, a >= 100 ? "%.1f" : a >= 10 ? "%.2f" : "%.3f", ms);
    lua_pushstring(L, buf);
    return 1;
}

static int l_bytes(lua_State *L)
{
    char buf[64];
    pa_fmt_bytes(num_arg(L, 1, "peeka.bytes"), buf, sizeof buf);
    lua_pushstring(L, buf);
    return 1;
}

/* peeka.parse_duration("10ms") -> 10000000 (ns), or nil */
static int l_parse_duration(lua_State *L)
{
    int64_t ns;
    if (peeka_duration_ns(luaL_checkstring(L, 1), PEEKA_BARE_MS, &ns) < 0)
        return 0;
    lua_pushinteger(L, (lua_Integer)ns);
    return 1;
}

/* peeka.fail(msg): the run goes on, then exits 1 (a CI gate failed). */
static int l_fail(lua_State *L)
{
    pa_rt *rt = pa_rt_get(L);
    const char *msg = luaL_optstring(L, 1, "check failed");
    rt->failed = 1;
    fflush(stdout);
    fprintf(stderr, "peeka-analyze: FAILED: %s\n", msg);
    return 0;
}

static int l_failed(lua_State *L)
{
    lua_pushboolean(L, pa_rt_get(L)->failed);
    return 1;
}

/* peeka.usage_error(msg): a script's own argument check failed: exit 2
 * with the message alone (no traceback: it is not a bug in the script). */
static int l_usage_error(lua_State *L)
{
    return pa_usage_error(L, "%s", luaL_checkstring(L, 1));
}

static int l_warn(lua_State *L)
{
    const char *msg = luaL_checkstring(L, 1);
    fflush(stdout);
    fprintf(stderr, "peeka-analyze: warning: %s\n", msg);
    return 0;
}

/* peeka.write_file(path, text): replaced atomically (temp file + rename). */
static int l_write_file(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    lua_pushfstring(L, "%s.tmp-%d", path, (int)getpid());
    const char *tmp = lua_tostring(L, -1);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return luaL_error(L, "cannot write %s: %s", path, strerror(errno));
    int ok = fwrite(data, 1, len, f) == len;
    int err = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        err = errno;
    }
    if (!ok || rename(tmp, path) != 0) {
        if (ok)
            err = errno;
        unlink(tmp);
        return luaL_error(L, "cannot write %s: %s", path, strerror(err));
    }
    return 0;
}

/* peeka.glob(pattern, text) -> boolean: the matcher of the func filter. */
static int l_glob(lua_State *L)
{
    size_t n;
    const char *pat = luaL_checkstring(L, 1);
    const char *s = luaL_checklstring(L, 2, &n);
    lua_pushboolean(L, pa_glob(pat, s, n));
    return 1;
}

void pa_open_util(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"duration", l_duration}, {"ms", l_ms}, {"bytes", l_bytes},
        {"parse_duration", l_parse_duration}, {"fail", l_fail}, {"failed", l_failed},
        {"warn", l_warn}, {"usage_error", l_usage_error}, {"write_file", l_write_file}, {"glob", l_glob}, {NULL, NULL}};
    luaL_setfuncs(L, fns, 0);
}
