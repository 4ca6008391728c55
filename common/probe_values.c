/* A probe's option values through the table (probe_values.h). */
#include "probe_values.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void pt_values_init(pt_values *v, const pt_kind *k)
{
    memset(v, 0, sizeof *v);
    v->kind = k;
    for (int i = 0; i < k->nopts; i++)
        v->num[i] = k->opts[i].dflt;
}

void pt_values_free(pt_values *v)
{
    for (int i = 0; i < PT_MAX_OPTS; i++) {
        free(v->text[i]);
        v->text[i] = NULL;
    }
}

static int is_int(double d)
{
    return d >= -9e15 && d <= 9e15 && d == floor(d);
}

/* The one range check both halves apply. */
static int num_ok(const pt_option *o, double d)
{
    if (d != d)
        return 0;
    switch (o->type) {
    case PT_INT:   return is_int(d) && d >= o->lo && d <= o->hi;
    case PT_COUNT: return is_int(d) && (d == -1 || d >= 1);
    case PT_NUM:   return d >= o->lo && d <= o->hi;
    case PT_FLAG:  return d == 0 || d == 1;
    default:       return 0;
    }
}

static int choice_ok(const pt_option *o, const char *s)
{
    size_t n = strlen(s);
    for (const char *c = o->choices; c && *c;) {
        size_t len = strcspn(c, "|");
        if (n && len == n && !strncmp(c, s, n))
            return 1;
        c += len + (c[len] == '|');
    }
    return 0;
}

/* The first choice, the default, into a fresh string. */
static char *first_choice(const pt_option *o)
{
    return strndup(o->choices, strcspn(o->choices, "|"));
}

static void range_error(const pt_option *o, const char *word, char *err, size_t errlen)
{
    if (o->type == PT_COUNT)
        snprintf(err, errlen, "%s needs a positive count (or -1)", word);
    else if (isinf(o->hi))
        snprintf(err, errlen, "%s needs %s (>= %.15g)", word, o->noun, o->lo);
    else
        snprintf(err, errlen, "%s needs %s from %.15g to %.15g", word, o->noun, o->lo, o->hi);
}

static int parse_number(const pt_option *o, const char *s, double *out)
{
    char *end;
    errno = 0;
    if (o->type == PT_NUM) {
        *out = strtod(s, &end);
    } else {
        long long n = strtoll(s, &end, 10);
        *out = (double)n;
    }
    return errno || end == s || *end ? -1 : 0;
}

static int set_text(pt_values *v, int i, char *s, char *err, size_t errlen)
{
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    free(v->text[i]);
    v->text[i] = s;
    return 0;
}

int pt_values_set(pt_values *v, int i, const char *word, const char *val, char *err, size_t errlen)
{
    const pt_option *o = &v->kind->opts[i];
    double d = 1;
    switch (o->type) {
    case PT_FLAG:
        break;
    case PT_INT: case PT_COUNT: case PT_NUM:
        if (parse_number(o, val, &d) < 0 || !num_ok(o, d)) {
            range_error(o, word, err, errlen);
            return -1;
        }
        break;
    case PT_CHOICE:
        if (!choice_ok(o, val)) {
            snprintf(err, errlen, "%s is one of %s (not '%s')", word, o->choices, val);
            return -1;
        }
        /* fall through */
    case PT_TEXT:
        if (set_text(v, i, strdup(val), err, errlen) < 0)
            return -1;
        break;
    default:
        snprintf(err, errlen, "%s: not a value the table checks", word);
        return -1;
    }
    v->num[i] = d;
    v->given[i] = 1;
    return 0;
}

double pt_num(const pt_values *v, const char *key, double absent)
{
    int i = pt_key_index(v->kind, key);
    return i < 0 ? absent : v->num[i];
}

const char *pt_text(const pt_values *v, const char *key)
{
    int i = pt_key_index(v->kind, key);
    return i < 0 ? NULL : v->text[i];
}

int pt_given(const pt_values *v, const char *key)
{
    int i = pt_key_index(v->kind, key);
    return i >= 0 && v->given[i];
}

void pt_values_put(const pt_values *v, cJSON *obj, int archive)
{
    const pt_kind *k = v->kind;
    for (int i = 0; i < k->nopts; i++) {
        const pt_option *o = &k->opts[i];
        const char *name = archive && o->archive_key ? o->archive_key : o->key;
        if (!name)
            continue;
        switch (o->type) {
        case PT_FLAG:
            cJSON_AddBoolToObject(obj, name, v->num[i] != 0);
            break;
        case PT_INT: case PT_COUNT: case PT_NUM:
            cJSON_AddNumberToObject(obj, name, v->num[i]);
            break;
        case PT_TEXT: case PT_CHOICE: {
            char *dflt = !v->text[i] && o->type == PT_CHOICE ? first_choice(o) : NULL;
            const char *s = v->text[i] ? v->text[i] : dflt;
            if (s)
                cJSON_AddStringToObject(obj, name, s);
            else if (archive)
                cJSON_AddNullToObject(obj, name);
            free(dflt);
            break;
        }
        default:
            break;
        }
    }
}

/* A field of the request that names an option of some other kind, never
 * of k: a recorder confused about what it installs. */
static const char *foreign_key(const pt_kind *k, const cJSON *obj)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, obj) {
        if (!f->string || pt_key_index(k, f->string) >= 0)
            continue;
        for (int i = 0; i < pt_nkinds; i++)
            if (pt_key_index(&pt_kinds[i], f->string) >= 0)
                return f->string;
    }
    return NULL;
}

static int get_one(pt_values *v, int i, const cJSON *f, int id, char *err, size_t errlen)
{
    const pt_option *o = &v->kind->opts[i];
    switch (o->type) {
    case PT_FLAG:
        if (!cJSON_IsBool(f))
            break;
        v->num[i] = cJSON_IsTrue(f);
        return 0;
    case PT_INT: case PT_COUNT: case PT_NUM:
        if (!cJSON_IsNumber(f))
            break;
        if (!num_ok(o, f->valuedouble)) {
            if (o->type == PT_COUNT)
                snprintf(err, errlen, "probe %d: %s %.15g is not a positive count or -1", id, o->key,
                         f->valuedouble);
            else
                snprintf(err, errlen, "probe %d: %s %.15g is out of range (%.15g..%.15g)", id, o->key,
                         f->valuedouble, o->lo, o->hi);
            return -1;
        }
        v->num[i] = f->valuedouble;
        return 0;
    case PT_TEXT: case PT_CHOICE:
        if (!cJSON_IsString(f))
            break;
        if (o->type == PT_CHOICE && !choice_ok(o, f->valuestring)) {
            snprintf(err, errlen, "probe %d: %s is one of %s (not '%s')", id, o->key, o->choices,
                     f->valuestring);
            return -1;
        }
        return set_text(v, i, strdup(f->valuestring), err, errlen);
    default:
        return 0;   /* RULES, EXPRS: the caller reads them */
    }
    snprintf(err, errlen, "probe %d: '%s' is not a %s", id, o->key,
             o->type == PT_FLAG ? "boolean" : o->type == PT_TEXT || o->type == PT_CHOICE ? "string"
                                                                                          : "number");
    return -1;
}

int pt_values_get(pt_values *v, const pt_kind *k, const cJSON *obj, int id, char *err, size_t errlen)
{
    pt_values_init(v, k);
    const char *alien = foreign_key(k, obj);
    if (alien) {
        snprintf(err, errlen, "probe %d: '%s' is not an option of %s probes", id, alien, k->name);
        return -1;
    }
    for (int i = 0; i < k->nopts; i++) {
        const pt_option *o = &k->opts[i];
        const cJSON *f = o->key ? cJSON_GetObjectItemCaseSensitive(obj, o->key) : NULL;
        if (!f || cJSON_IsNull(f)) {
            if (o->type == PT_CHOICE && !(v->text[i] = first_choice(o))) {
                snprintf(err, errlen, "out of memory");
                pt_values_free(v);
                return -1;
            }
            continue;
        }
        if (get_one(v, i, f, id, err, errlen) < 0) {
            pt_values_free(v);
            return -1;
        }
        v->given[i] = 1;
    }
    return 0;
}
