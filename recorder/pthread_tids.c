#include "pthread_tids.h"
#include "debug_read.h"
#include "proc_maps.h"

#include <stdlib.h>
#include <string.h>

/* How much of each struct pthread is searched: glibc's tid sits 720
 * bytes in on x86_64. */
#define SCAN_BYTES 2048
#define SCAN_STEP 4   /* a pid_t is 4-aligned */

static int by_tid(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

/* The ids at offset k of every struct, if all are tasks of the process
 * and no two are the same: 0, else -1. */
static int ids_at(const uint8_t *structs, size_t n, size_t k, const pid_t *tasks, size_t ntasks,
                  uint64_t *got)
{
    for (size_t i = 0; i < n; i++) {
        pid_t tid;
        memcpy(&tid, structs + i * SCAN_BYTES + k, sizeof tid);
        if (tid <= 0 || !bsearch(&tid, tasks, ntasks, sizeof *tasks, by_tid))
            return -1;
        for (size_t j = 0; j < i; j++)
            if (got[j] == (uint64_t)tid)
                return -1;
        got[i] = (uint64_t)tid;
    }
    return 0;
}

/* Every offset that fits must give the same ids (a field that copies the
 * tid, or the main thread's tid which is also the pid, is no ambiguity). */
static int search(const uint8_t *structs, size_t n, const pid_t *tasks, size_t ntasks,
                  uint64_t *out, uint64_t *got)
{
    int found = 0;
    for (size_t k = 0; k + sizeof(pid_t) <= SCAN_BYTES; k += SCAN_STEP) {
        if (ids_at(structs, n, k, tasks, ntasks, got) < 0)
            continue;
        if (found && memcmp(out, got, n * sizeof *out) != 0)
            return -1;
        memcpy(out, got, n * sizeof *out);
        found = 1;
    }
    return found ? 0 : -1;
}

/* The structs of the threads whose pthread_t can be read, packed into
 * structs; which ones in kept[].  A thread that ended meanwhile (its
 * stack, and the struct with it, unmapped) is left out, not the others. */
static size_t read_structs(pid_t pid, const uint64_t *ids, size_t n, uint8_t *structs,
                           size_t *kept)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (ids[i] && dv_read(pid, ids[i], structs + m * SCAN_BYTES, SCAN_BYTES) == 0)
            kept[m++] = i;
    return m;
}

void pk_pthread_tids(pid_t pid, const uint64_t *ids, size_t n, uint64_t *out)
{
    if (!n)
        return;
    memset(out, 0, n * sizeof *out);
    pid_t *tasks = NULL;
    size_t ntasks = 0, m = 0;
    uint8_t *structs = malloc(n * SCAN_BYTES);
    uint64_t *got = malloc(n * sizeof *got), *found = malloc(n * sizeof *found);
    size_t *kept = malloc(n * sizeof *kept);
    if (structs && got && found && kept && pk_tasks_list(pid, &tasks, &ntasks) == 0 && ntasks)
        m = read_structs(pid, ids, n, structs, kept);
    if (m) {
        qsort(tasks, ntasks, sizeof *tasks, by_tid);
        if (search(structs, m, tasks, ntasks, found, got) == 0)
            for (size_t k = 0; k < m; k++)
                out[kept[k]] = found[k];
    }
    free(kept);
    free(found);
    free(tasks);
    free(got);
    free(structs);
}
