#include "remote_records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void rr_add_u64(cJSON *o, const char *key, uint64_t v)
{
    char num[24];
    snprintf(num, sizeof num, "%llu", (unsigned long long)v);
    cJSON_AddRawToObject(o, key, num);
}

cJSON *rr_head(const char *kind, const probe_spec *p, long long cycle, long long seq, int64_t wall)
{
    cJSON *o = cJSON_CreateObject();
    char secs[40];
    cJSON_AddStringToObject(o, "type", "observation");
    cJSON_AddStringToObject(o, "kind", kind);
    cJSON_AddNumberToObject(o, "probe_id", p->id);
    cJSON_AddNumberToObject(o, "cycle", (double)cycle);
    cJSON_AddNumberToObject(o, "seq", (double)seq);
    rr_add_u64(o, "ts_ns", (uint64_t)wall);
    snprintf(secs, sizeof secs, "%lld.%06lld", (long long)(wall / 1000000000),
             (long long)(wall % 1000000000 / 1000));
    cJSON_AddRawToObject(o, "timestamp", secs);
    cJSON_AddNullToObject(o, "func_name");
    return o;
}

cJSON *rr_frame(const rs_snapshot *s, const rs_frame *f)
{
    cJSON *o = cJSON_CreateObject();
    const rs_code *c = &s->codes[f->code];
    cJSON_AddStringToObject(o, "filename", c->file);
    if (f->line >= 0)
        cJSON_AddNumberToObject(o, "lineno", f->line);
    else
        cJSON_AddNullToObject(o, "lineno");
    cJSON_AddStringToObject(o, "function", c->func);
    cJSON_AddNullToObject(o, "code_context");
    return o;
}

void rr_add_stack(cJSON *o, const rs_snapshot *s, const rs_thread *th)
{
    cJSON *stack = cJSON_AddArrayToObject(o, "stack");
    for (int i = 0; i < th->nframes; i++)
        cJSON_AddItemToArray(stack, rr_frame(s, &th->frames[i]));
}

int rr_append(char **out, size_t *len, cJSON *rec)
{
    char *line = cJSON_PrintUnformatted(rec);
    cJSON_Delete(rec);
    size_t n = line ? strlen(line) : 0;
    char *g = line ? realloc(*out, *len + n + 2) : NULL;
    if (!g) {
        free(line);
        return -1;
    }
    memcpy(g + *len, line, n);
    g[*len + n] = '\n';
    g[*len + n + 1] = 0;
    *len += n + 1;
    *out = g;
    free(line);
    return 0;
}

int64_t rr_wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
