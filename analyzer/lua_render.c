/* Output for people and CI: aligned tables (text, markdown, JSON) and call
 * trees drawn with Peeka's connectors ("+---", "|   ", "`---"). */
#include "runtime.h"
#include "util.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define TABLE_MT "peeka.table"

/* ---- tables ---------------------------------------------------------------
 * A table is a Lua table {title=, columns={{name=, align=, format=}...},
 * rows={{raw values}...}} with methods; rendering is done here in C. */

static void column_spec(lua_State *L, int cols, int src, lua_Integer i)
{
    lua_createtable(L, 0, 3);
    if (lua_type(L, src) == LUA_TSTRING) {
        lua_pushvalue(L, src);
        lua_setfield(L, -2, "name");
    } else if (lua_istable(L, src)) {
        const char *const keys[] = {"name", "align", "format"};
        for (int k = 0; k < 3; k++) {
            lua_getfield(L, src, keys[k]);
            lua_setfield(L, -2, keys[k]);
        }
        lua_getfield(L, -1, "name");
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "peeka.table: column %d needs a name", (int)i);
        lua_pop(L, 1);
        lua_getfield(L, -1, "align");
        const char *al = lua_tostring(L, -1);
        if (al && strcmp(al, "left") != 0 && strcmp(al, "right") != 0)
            luaL_error(L, "peeka.table: column %d: align is \"left\" or \"right\", not \"%s\"", (int)i, al);
        lua_pop(L, 1);
    } else {
        luaL_error(L, "peeka.table: column %d must be a name or {name=, align=, format=}", (int)i);
    }
    lua_rawseti(L, cols, i);
}

/* peeka.table{"a", "b"} or peeka.table{title=, columns={...}} */
static int l_table(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_createtable(L, 0, 3);
    int t = lua_gettop(L);
    lua_getfield(L, 1, "title");
    lua_setfield(L, t, "title");
    lua_getfield(L, 1, "columns");
    int src = lua_istable(L, -1) ? lua_gettop(L) : 1;
    lua_newtable(L);
    int cols = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, src);
    if (n == 0)
        return luaL_error(L, "peeka.table: no columns given");
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, src, i);
        column_spec(L, cols, lua_gettop(L), i);
        lua_pop(L, 1);
    }
    lua_setfield(L, t, "columns");
    lua_pop(L, 1);
    lua_newtable(L);
    lua_setfield(L, t, "rows");
    luaL_setmetatable(L, TABLE_MT);
    return 1;
}

static void check_tbl(lua_State *L)
{
    int ok = lua_istable(L, 1) && lua_getmetatable(L, 1);
    if (ok) {
        luaL_getmetatable(L, TABLE_MT);
        ok = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }
    if (!ok)
        luaL_typeerror(L, 1, "peeka.table");
}

static lua_Integer ncols(lua_State *L, int t)
{
    lua_getfield(L, t, "columns");
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    lua_pop(L, 1);
    return n;
}

/* t:add{v1, v2, ...} or t:add{name=v, ...} or t:add(v1, v2, ...) */
static int t_add(lua_State *L)
{
    check_tbl(L);
    lua_Integer n = ncols(L, 1);
    int nargs = lua_gettop(L) - 1;
    lua_createtable(L, (int)n, 0);
    int row = lua_gettop(L);
    lua_getfield(L, 1, "columns");
    int cols = lua_gettop(L);
    int by_table = nargs == 1 && lua_istable(L, 2) && !luaL_testudata(L, 2, "peeka.record");
    for (lua_Integer i = 1; i <= n; i++) {
        if (by_table) {
            if (lua_rawgeti(L, 2, i) == LUA_TNIL) {
                lua_pop(L, 1);
                lua_rawgeti(L, cols, i);
                lua_getfield(L, -1, "name");
                lua_gettable(L, 2);
                lua_remove(L, -2);
            }
        } else {
            if (i <= nargs)
                lua_pushvalue(L, (int)i + 1);
            else
                lua_pushnil(L);
        }
        lua_rawseti(L, row, i);
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "rows");
    lua_pushvalue(L, row);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    return 0;
}

/* Pushes the display text of a cell. */
static void cell_text(lua_State *L, int col, int val)
{
    if (lua_isnil(L, val)) {
        lua_pushliteral(L, "");
        return;
    }
    if (lua_getfield(L, col, "format") == LUA_TFUNCTION) {
        lua_pushvalue(L, val);
        lua_call(L, 1, 1);
        luaL_tolstring(L, -1, NULL);
        lua_remove(L, -2);
        return;
    }
    lua_pop(L, 1);
    if (lua_type(L, val) == LUA_TNUMBER && !lua_isinteger(L, val)) {
        double d = lua_tonumber(L, val);
        char buf[64];
        if (d == floor(d) && fabs(d) < 1e15) {
            snprintf(buf, sizeof buf, "%.0f", d);
        } else {
            snprintf(buf, sizeof buf, "%.3f", d);
            char *e = buf + strlen(buf) - 1;
            while (e > buf && *e == '0')
                *e-- = '\0';
            if (*e == '.')
                *e = '\0';
        }
        lua_pushstring(L, buf);
        return;
    }
    luaL_tolstring(L, val, NULL);
}

typedef struct {
    lua_Integer nc, nr;
    int cols, rows, cells;      /* stack indices */
    size_t width[64];
    int right[64];
} layout;

/* Computes the display text of every cell and the column widths. */
static void table_layout(lua_State *L, int t, layout *lo)
{
    lua_getfield(L, t, "columns");
    lo->cols = lua_gettop(L);
    lua_getfield(L, t, "rows");
    lo->rows = lua_gettop(L);
    lo->nc = (lua_Integer)lua_rawlen(L, lo->cols);
    lo->nr = (lua_Integer)lua_rawlen(L, lo->rows);
    if (lo->nc > 64)
        luaL_error(L, "peeka.table: at most 64 columns");
    lua_newtable(L);
    lo->cells = lua_gettop(L);
    for (lua_Integer c = 1; c <= lo->nc; c++) {
        lua_rawgeti(L, lo->cols, c);
        int col = lua_gettop(L);
        size_t hl;
        lua_getfield(L, col, "name");
        const char *h = lua_tolstring(L, -1, &hl);
        lo->width[c - 1] = pa_utf8_width(h, hl);
        lua_pop(L, 1);
        int numeric = lo->nr > 0;
        for (lua_Integer r = 1; r <= lo->nr; r++) {
            lua_rawgeti(L, lo->rows, r);
            lua_rawgeti(L, -1, c);
            if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TNUMBER)
                numeric = 0;
            size_t len;
            cell_text(L, col, lua_gettop(L));
            const char *s = lua_tolstring(L, -1, &len);
            if (pa_utf8_width(s, len) > lo->width[c - 1])
                lo->width[c - 1] = pa_utf8_width(s, len);
            lua_rawseti(L, lo->cells, (r - 1) * lo->nc + c);
            lua_pop(L, 2);
        }
        lua_getfield(L, col, "align");
        const char *al = lua_tostring(L, -1);
        lo->right[c - 1] = al ? strcmp(al, "right") == 0 : numeric;
        lua_pop(L, 2);
    }
}

static void pad(pa_buf *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pa_buf_addc(b, ' ');
}

static void text_cell(pa_buf *b, const char *s, size_t len, size_t width, int right, int last)
{
    size_t w = pa_utf8_width(s, len);
    if (right)
        pad(b, width - w);
    pa_buf_add(b, s, len);
    if (!right && !last)
        pad(b, width - w);
}

static void render_text(lua_State *L, int t, pa_buf *b, layout *lo)
{
    lua_getfield(L, t, "title");
    if (lua_type(L, -1) == LUA_TSTRING)
        pa_buf_printf(b, "%s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
    for (lua_Integer c = 1; c <= lo->nc; c++) {
        lua_rawgeti(L, lo->cols, c);
        lua_getfield(L, -1, "name");
        size_t len;
        const char *h = lua_tolstring(L, -1, &len);
        text_cell(b, h, len, lo->width[c - 1], lo->right[c - 1], c == lo->nc);
        pa_buf_adds(b, c == lo->nc ? "\n" : "  ");
        lua_pop(L, 2);
    }
    for (lua_Integer c = 1; c <= lo->nc; c++) {
        for (size_t i = 0; i < lo->width[c - 1]; i++)
            pa_buf_addc(b, '-');
        pa_buf_adds(b, c == lo->nc ? "\n" : "  ");
    }
    for (lua_Integer r = 1; r <= lo->nr; r++) {
        for (lua_Integer c = 1; c <= lo->nc; c++) {
            size_t len;
            lua_rawgeti(L, lo->cells, (r - 1) * lo->nc + c);
            const char *s = lua_tolstring(L, -1, &len);
            text_cell(b, s, len, lo->width[c - 1], lo->right[c - 1], c == lo->nc);
            pa_buf_adds(b, c == lo->nc ? "\n" : "  ");
            lua_pop(L, 1);
        }
    }
}

static void md_text(pa_buf *b, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '|')
            pa_buf_adds(b, "\\|");
        else if (s[i] == '\n')
            pa_buf_adds(b, "<br>");
        else
            pa_buf_addc(b, s[i]);
    }
}

static void render_markdown(lua_State *L, int t, pa_buf *b, layout *lo)
{
    lua_getfield(L, t, "title");
    if (lua_type(L, -1) == LUA_TSTRING)
        pa_buf_printf(b, "### %s\n\n", lua_tostring(L, -1));
    lua_pop(L, 1);
    pa_buf_adds(b, "|");
    for (lua_Integer c = 1; c <= lo->nc; c++) {
        lua_rawgeti(L, lo->cols, c);
        lua_getfield(L, -1, "name");
        size_t len;
        const char *h = lua_tolstring(L, -1, &len);
        pa_buf_addc(b, ' ');
        md_text(b, h, len);
        pa_buf_adds(b, " |");
        lua_pop(L, 2);
    }
    pa_buf_adds(b, "\n|");
    for (lua_Integer c = 1; c <= lo->nc; c++)
        pa_buf_adds(b, lo->right[c - 1] ? "---:|" : ":---|");
    pa_buf_addc(b, '\n');
    for (lua_Integer r = 1; r <= lo->nr; r++) {
        pa_buf_adds(b, "|");
        for (lua_Integer c = 1; c <= lo->nc; c++) {
            size_t len;
            lua_rawgeti(L, lo->cells, (r - 1) * lo->nc + c);
            const char *s = lua_tolstring(L, -1, &len);
            pa_buf_addc(b, ' ');
            md_text(b, s, len);
            pa_buf_adds(b, " |");
            lua_pop(L, 1);
        }
        pa_buf_addc(b, '\n');
    }
}

/* JSON: {"title":..., "columns":[names], "rows":[{name: raw value}]} */
static void render_json(lua_State *L, int t, pa_buf *b, layout *lo)
{
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, "peeka");
    lua_getfield(L, -1, "json");
    lua_getfield(L, -1, "encode");
    int enc = lua_gettop(L);
    lua_createtable(L, 0, 3);
    int doc = lua_gettop(L);
    lua_getfield(L, t, "title");
    lua_setfield(L, doc, "title");
    lua_createtable(L, (int)lo->nc, 0);
    for (lua_Integer c = 1; c <= lo->nc; c++) {
        lua_rawgeti(L, lo->cols, c);
        lua_getfield(L, -1, "name");
        lua_rawseti(L, -3, c);
        lua_pop(L, 1);
    }
    lua_setfield(L, doc, "columns");
    lua_createtable(L, (int)lo->nr, 0);
    for (lua_Integer r = 1; r <= lo->nr; r++) {
        lua_createtable(L, 0, (int)lo->nc);
        lua_rawgeti(L, lo->rows, r);
        for (lua_Integer c = 1; c <= lo->nc; c++) {
            lua_rawgeti(L, lo->cols, c);
            lua_getfield(L, -1, "name");
            lua_rawgeti(L, -3, c);
            lua_settable(L, -5);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        lua_rawseti(L, -2, r);
    }
    lua_setfield(L, doc, "rows");
    lua_pushvalue(L, enc);
    lua_pushvalue(L, doc);
    lua_call(L, 1, 1);
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    pa_buf_add(b, s, len);
    pa_buf_addc(b, '\n');
    lua_settop(L, enc - 4);
}

static int format_arg(lua_State *L, int idx)
{
    static const char *const names[] = {"text", "json", "markdown", NULL};
    if (lua_isnoneornil(L, idx))
        return pa_rt_get(L)->format;
    return luaL_checkoption(L, idx, NULL, names);
}

static int t_render(lua_State *L)
{
    check_tbl(L);
    int fmt = format_arg(L, 2);
    lua_settop(L, 1);
    pa_buf *b = pa_lbuf_new(L);
    layout lo;
    table_layout(L, 1, &lo);
    if (fmt == PA_FMT_JSON)
        render_json(L, 1, b, &lo);
    else if (fmt == PA_FMT_MARKDOWN)
        render_markdown(L, 1, b, &lo);
    else
        render_text(L, 1, b, &lo);
    if (b->oom)
        return luaL_error(L, "peeka.table: out of memory");
    lua_pushlstring(L, b->p ? b->p : "", b->len);
    return 1;
}

static int t_print(lua_State *L)
{
    t_render(L);
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    if (fwrite(s, 1, len, stdout) != len)
        return luaL_error(L, "cannot write to standard output");
    return 0;
}

static int t_len(lua_State *L)
{
    lua_getfield(L, 1, "rows");
    lua_pushinteger(L, (lua_Integer)lua_rawlen(L, -1));
    return 1;
}

/* ---- trees ---------------------------------------------------------------- */

typedef struct {
    lua_State *L;
    pa_buf *b;
    pa_buf *prefix;
    int label;                  /* stack index of the label function */
    const char *children;
} tree_ctx;

static void tree_node(tree_ctx *tc, int node, int last, int depth)
{
    lua_State *L = tc->L;
    if (depth > 10000)
        luaL_error(L, "peeka.tree: deeper than 10000 levels");
    luaL_checkstack(L, 6, "tree depth");
    pa_buf_add(tc->b, tc->prefix->p ? tc->prefix->p : "", tc->prefix->len);
    pa_buf_adds(tc->b, last ? "`---" : "+---");
    lua_pushvalue(L, tc->label);
    lua_pushvalue(L, node);
    lua_call(L, 1, 1);
    size_t len;
    const char *s = luaL_tolstring(L, -1, &len);
    pa_buf_add(tc->b, s, len);
    pa_buf_addc(tc->b, '\n');
    lua_pop(L, 2);
    if (lua_getfield(L, node, tc->children) != LUA_TTABLE) {
        lua_pop(L, 1);
        return;
    }
    int kids = lua_gettop(L);
    size_t saved = tc->prefix->len;
    pa_buf_adds(tc->prefix, last ? "    " : "|   ");
    lua_Integer n = (lua_Integer)lua_rawlen(L, kids);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, kids, i);
        if (lua_istable(L, -1))
            tree_node(tc, lua_gettop(L), i == n, depth + 1);
        lua_pop(L, 1);
    }
    tc->prefix->len = saved;
    lua_pop(L, 1);
}

static int default_label(lua_State *L)
{
    if (lua_getfield(L, 1, "label") == LUA_TNIL) {
        lua_pop(L, 1);
        lua_getfield(L, 1, "func");
    }
    return 1;
}

/* peeka.tree(root [, label_fn | {label=fn, children="children"}]) -> string */
static int l_tree(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    const char *children = "children";
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "children");
        if (lua_type(L, -1) == LUA_TSTRING)
            children = lua_tostring(L, -1);
        lua_getfield(L, 2, "label");
        lua_replace(L, 2);      /* children name stays anchored at 3 */
    }
    if (lua_isnil(L, 2)) {
        lua_pushcfunction(L, default_label);
        lua_replace(L, 2);
    }
    luaL_checktype(L, 2, LUA_TFUNCTION);
    pa_buf *b = pa_lbuf_new(L);
    pa_buf *prefix = pa_lbuf_new(L);
    tree_ctx tc = {L, b, prefix, 2, children};
    tree_node(&tc, 1, 1, 0);
    if (b->oom)
        return luaL_error(L, "peeka.tree: out of memory");
    lua_pushlstring(L, b->p ? b->p : "", b->len);
    return 1;
}

void pa_open_render(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"add", t_add}, {"render", t_render}, {"print", t_print}, {NULL, NULL}};
    luaL_newmetatable(L, TABLE_MT);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, t_len);
    lua_setfield(L, -2, "__len");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_table);
    lua_setfield(L, -2, "table");
    lua_pushcfunction(L, l_tree);
    lua_setfield(L, -2, "tree");
}
