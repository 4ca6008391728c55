/* 3.12+, watch on an `async def`: the coroutines still to finish, keyed by
 * the coroutine's address, each with its pending call (watch_async_events.c).
 * Grows with the coroutines in flight, up to CORO_TABLE_MAX. */
#ifndef PEEKA_CORO_TABLE_H
#define PEEKA_CORO_TABLE_H

#include <stddef.h>

#define CORO_TABLE_MAX (1 << 18)   /* coroutines followed at once */

/* -1 when full or out of memory (then the coroutine is not followed). */
int   coro_table_put(const void *coro, void *value);
/* Removes coro's entry and returns its value; NULL when it has none. */
void *coro_table_take(const void *coro);
/* Removes coro's entry only if its value is `value`; 1 when it did. */
int   coro_table_take_if(const void *coro, const void *value);
/* Removes every entry whose value `pick` chooses, handing each value to
 * `taken` (which must not touch the table). */
void  coro_table_take_all(int (*pick)(void *value, void *ctx),
                          void (*taken)(void *value, void *ctx), void *ctx);
size_t coro_table_size(void);

#endif
