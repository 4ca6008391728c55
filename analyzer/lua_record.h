/* Records as Lua userdata: a copy of the JSON line plus its field index;
 * fields are decoded only when a script reads them (r.func_name, r.cost_ns). */
#ifndef PA_LUA_RECORD_H
#define PA_LUA_RECORD_H

#include "record.h"

#include <lua.h>

#define PA_RECORD_MT "peeka.record"

/* Pushes a record; mt is the stack index of the record metatable. */
void pa_push_record(lua_State *L, const pa_recview *v, int archive, int mt);
void pa_open_record_mt(lua_State *L);

#endif
