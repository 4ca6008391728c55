/* Open addressing with linear probing and tombstones; rebuilt when it
 * fills (live entries plus tombstones over 3/4). */
#include "coro_table.h"

#include <stdint.h>
#include <stdlib.h>

typedef struct {
    const void *key;            /* NULL: free; &tomb: removed */
    void *value;
} slot;

static slot *slots;
static size_t cap, live, used;   /* used: live + tombstones */
static const char tomb;

static size_t hash(const void *p)
{
    uintptr_t x = (uintptr_t)p;
    x ^= x >> 17;
    x *= 0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 32);
}

static slot *find(const void *key)
{
    if (!slots)
        return NULL;
    for (size_t i = hash(key) & (cap - 1);; i = (i + 1) & (cap - 1)) {
        if (!slots[i].key)
            return NULL;
        if (slots[i].key == key)
            return &slots[i];
    }
}

static void insert(slot *s, size_t n, const void *key, void *value)
{
    size_t i = hash(key) & (n - 1);
    while (s[i].key)
        i = (i + 1) & (n - 1);
    s[i].key = key;
    s[i].value = value;
}

/* A table with room for `want` live entries at half load, tombstones gone. */
static int rebuild(size_t want)
{
    size_t n = 64;
    while (n < want * 2)
        n *= 2;
    slot *s = calloc(n, sizeof *s);
    if (!s)
        return -1;
    for (size_t i = 0; i < cap; i++)
        if (slots[i].key && slots[i].key != &tomb)
            insert(s, n, slots[i].key, slots[i].value);
    free(slots);
    slots = s;
    cap = n;
    used = live;
    return 0;
}

int coro_table_put(const void *coro, void *value)
{
    if (live >= CORO_TABLE_MAX || find(coro))
        return -1;
    if ((used + 1) * 4 > cap * 3 && rebuild(live + 1) < 0)
        return -1;
    insert(slots, cap, coro, value);
    live++;
    used++;
    return 0;
}

static void *remove_slot(slot *s)
{
    void *v = s->value;
    s->key = &tomb;
    s->value = NULL;
    if (--live == 0) {   /* empty: start again small */
        free(slots);
        slots = NULL;
        cap = used = 0;
    }
    return v;
}

void *coro_table_take(const void *coro)
{
    slot *s = find(coro);
    return s ? remove_slot(s) : NULL;
}

int coro_table_take_if(const void *coro, const void *value)
{
    slot *s = find(coro);
    if (!s || s->value != value)
        return 0;
    remove_slot(s);
    return 1;
}

void coro_table_take_all(int (*pick)(void *value, void *ctx), void (*taken)(void *value, void *ctx),
                         void *ctx)
{
    for (size_t i = 0; slots && i < cap; i++) {
        slot *s = &slots[i];
        if (s->key && s->key != &tomb && pick(s->value, ctx))
            taken(remove_slot(s), ctx);   /* the last one frees the table: the loop ends */
    }
}

size_t coro_table_size(void)
{
    return live;
}
