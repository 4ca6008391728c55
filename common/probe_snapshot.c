/* The snapshot probes' rules (probe_snapshot.h). */
#include "probe_snapshot.h"
#include "pattern.h"

#include <stdio.h>
#include <string.h>

int pt_is_snapshot(int kind)
{
    return kind == PK_MEMORY || kind == PK_LOGGER || kind == PK_INSPECT || kind == PK_SC || kind == PK_SM;
}

/* The probe's --action, or its default (the first choice) when peeka-rec
 * has not filled that in yet; its length in *n. */
static const char *action_of(const pt_values *v, size_t *n)
{
    const char *s = pt_text(v, "action");
    int i = pt_key_index(v->kind, "action");
    if (!s && i >= 0)
        s = v->kind->opts[i].choices;
    *n = s ? strcspn(s, "|") : 0;
    return s;
}

static int action_is(const pt_values *v, const char *a)
{
    size_t n;
    const char *s = action_of(v, &n);
    return s && strlen(a) == n && !strncmp(s, a, n);
}

int pt_snapshot_lasts(const pt_values *v)
{
    switch (v->kind->kind) {
    case PK_MEMORY: return action_is(v, "top") || action_is(v, "diff");
    case PK_LOGGER: return action_is(v, "set") || pt_num(v, "capture", 0) != 0;
    default:        return 0;
    }
}

long long pt_snapshot_times(const pt_values *v)
{
    if (v->kind->kind == PK_LOGGER && pt_num(v, "capture", 0) != 0)
        return (long long)pt_num(v, "times", -1);
    return pt_snapshot_lasts(v) ? -1 : 1;
}

int pt_snapshot_check(const pt_values *v, char *err, size_t errlen)
{
    int k = v->kind->kind;
    if (k == PK_LOGGER && pt_num(v, "capture", 0) != 0 && !action_is(v, "list")) {
        snprintf(err, errlen, "logger: --capture takes no --action (it is its own)");
        return -1;
    }
    if (k == PK_LOGGER && action_is(v, "set") && (!pt_text(v, "name") || !pt_text(v, "level"))) {
        snprintf(err, errlen, "logger --action set needs --name and --level");
        return -1;
    }
    if (k == PK_INSPECT && action_is(v, "get") && !pt_text(v, "target")) {
        snprintf(err, errlen, "inspect needs --target module.name (or --action count|instances --type T)");
        return -1;
    }
    if (k == PK_INSPECT && pt_text(v, "target") && strlen(pt_text(v, "target")) >= PEEKA_PATTERN_MAX) {
        snprintf(err, errlen, "inspect: --target is longer than %d bytes", PEEKA_PATTERN_MAX - 1);
        return -1;
    }
    if (k == PK_INSPECT && !action_is(v, "get") && !pt_text(v, "type")) {
        size_t n;
        const char *a = action_of(v, &n);
        snprintf(err, errlen, "inspect --action %.*s needs --type", (int)n, a);
        return -1;
    }
    return 0;
}
