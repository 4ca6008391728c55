/* The Lua runtime of peeka-analyze: one lua_State, the `peeka` library,
 * script loading (text only), error reporting and the callback driver. */
#ifndef PA_RUNTIME_H
#define PA_RUNTIME_H

#include <lua.h>
#include <stdint.h>

enum pa_format { PA_FMT_TEXT, PA_FMT_JSON, PA_FMT_MARKDOWN };

/* Exit codes (documented in docs/lua-api.md and --help). */
enum { PA_EXIT_OK = 0, PA_EXIT_FAIL = 1, PA_EXIT_USAGE = 2, PA_EXIT_ARCHIVE = 3 };

struct pa_cursor;

typedef struct pa_rt {
    lua_State *L;
    int format;
    int format_set;             /* --format given explicitly */
    int narchives;
    char **archives;            /* paths, as given */
    int nargs;
    char **args;                /* --arg NAME=VALUE, as given */
    const char *script_name;    /* for messages */
    const char *script_dir;     /* directory of the built-in scripts */
    int meta_only;              /* -l / -i: stop at peeka.script{} */
    int meta_seen;
    int failed;                 /* peeka.fail() was called */
    int archive_error;          /* an archive could not be read: exit 3 */
    int usage_error;            /* wrong arguments: exit 2 without traceback */
    int quiet;
    char *warned;               /* per archive: incompleteness reported */
    struct pa_cursor *cur;      /* the cursor of the record being processed */
} pa_rt;

pa_rt *pa_rt_get(lua_State *L);

/* Creates the state and the `peeka` table; NULL when out of memory. */
pa_rt *pa_rt_new(void);
void pa_rt_free(pa_rt *rt);

/* Reads every archive's session.json into peeka.archives; on failure
 * prints the archive's name and what is wrong and returns PA_EXIT_ARCHIVE. */
int pa_rt_load_archives(pa_rt *rt);

/* Runs a script file or a chunk (-e) and then its callbacks.  Returns the
 * process exit code. */
int pa_rt_run_file(pa_rt *rt, const char *path, const char *display);
int pa_rt_run_string(pa_rt *rt, const char *code);

/* Loads a script only as far as its peeka.script{} metadata; leaves the
 * metadata table (or nil) on the stack.  0, or -1 with a message pushed. */
int pa_rt_script_meta(pa_rt *rt, const char *path);

/* Raises an archive error (exit 3): "ARCHIVE: message". */
int pa_archive_error(lua_State *L, int archive, const char *fmt, ...);
/* Raises a usage error (exit 2, no traceback). */
int pa_usage_error(lua_State *L, const char *fmt, ...);

/* A growable buffer owned by a userdata pushed on the stack (freed by the
 * garbage collector, so a Lua error never leaks it). */
#include "util.h"
pa_buf *pa_lbuf_new(lua_State *L);

/* Module openers: each adds its functions to the table on the stack top. */
void pa_open_records(lua_State *L);
void pa_open_json(lua_State *L);
void pa_open_stats(lua_State *L);
void pa_open_render(lua_State *L);
void pa_open_util(lua_State *L);
void pa_open_script(lua_State *L);
void pa_open_writer(lua_State *L);
void pa_open_redact(lua_State *L);
void pa_open_require(lua_State *L);

/* Pushes the decoded JSON text (objects/arrays as tables); on a parse
 * error pushes nothing and returns -1 with a message in *err. */
int pa_json_push(lua_State *L, const char *s, size_t n, const char **err, size_t *erroff);

/* The archive info table peeka.archives[i] (1-based) on the stack. */
void pa_push_archive_info(lua_State *L, int i);

/* Record location for error messages ("ARCHIVE: MEMBER line N"), or 0. */
int pa_cursor_where(struct pa_cursor *c, char *buf, size_t len);

/* Runs the callbacks (on_start, on_<kind>/on_record, on_end) if defined. */
int pa_drive_callbacks(lua_State *L);

#endif
