/* Open addressing with linear probing, keyed by the function's address.
 * Sized for a few thousand hooked functions; a full table refuses more. */
#include "hooks_table.h"

#define TABLE_SIZE 8192   /* power of two, at most half full */

static hooked *table[TABLE_SIZE];
static hooked tombstone;
static int count;

static size_t slot_of(const void *p)
{
    uintptr_t x = (uintptr_t)p;
    x ^= x >> 17;
    x *= 0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 40) & (TABLE_SIZE - 1);
}

hooked *hooks_table_find(PyObject *func)
{
    for (size_t i = slot_of(func), n = 0; n < TABLE_SIZE; i = (i + 1) & (TABLE_SIZE - 1), n++) {
        hooked *h = table[i];
        if (!h)
            return NULL;
        if (h != &tombstone && h->func == func)
            return h;
    }
    return NULL;
}

int hooks_table_add(hooked *h)
{
    if (count >= TABLE_SIZE / 2) {
        PyErr_SetString(PyExc_RuntimeError, "peeka: too many functions hooked (limit 4096)");
        return -1;
    }
    size_t i = slot_of(h->func);
    while (table[i] && table[i] != &tombstone)
        i = (i + 1) & (TABLE_SIZE - 1);
    table[i] = h;
    count++;
    return 0;
}

void hooks_table_remove(hooked *h)
{
    for (size_t i = slot_of(h->func), n = 0; n < TABLE_SIZE; i = (i + 1) & (TABLE_SIZE - 1), n++) {
        if (!table[i])
            return;
        if (table[i] == h) {
            table[i] = &tombstone;
            count--;
            return;
        }
    }
}

int hooks_table_collect(hooked **out, int max)
{
    int n = 0;
    for (size_t i = 0; i < TABLE_SIZE && n < max; i++)
        if (table[i] && table[i] != &tombstone)
            out[n++] = table[i];
    if (count == 0)   /* no live entries: clear tombstones so probes stay short */
        for (size_t i = 0; i < TABLE_SIZE; i++)
            table[i] = NULL;
    return n;
}

int hooks_table_size(void)
{
    return count;
}
