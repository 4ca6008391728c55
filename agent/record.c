/* watch --record (record.h).  Each expression is evaluated like a
 * condition, at the record's location, and its value formatted with the
 * probe's limits and redaction rules (strings also lose `key=value`
 * secrets).  With rules, an expression is not evaluated at all, and
 * "[redacted]" takes its place, when it reads what a rule hides: a name,
 * attribute or key a rule matches; `params` or `kwargs` while an argument
 * of that kind is hidden; `throwExp` while the message holds a secret; or
 * `.values()` / `.items()`, which take values out from under their keys. */
#include "record.h"
#include "cond.h"
#include "redactor.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct record_exprs {
    int n;
    peeka_cond *expr[RECORD_EXPRS_MAX];
    unsigned named;        /* bit k: k reads a name, attribute or key a rule matches */
    unsigned positional;   /* bit k: k reads `params`: hidden when a positional argument is */
    unsigned keyword;      /* bit k: k reads `kwargs`: hidden when a keyword argument is */
    unsigned thrown;       /* bit k: k reads `throwExp`: hidden when the message holds a secret */
    unsigned unkeyed;      /* bit k: k calls .values() or .items(): hidden */
    peeka_cond *message;   /* `throwExp` itself, to test the message as k sees it */
} record_exprs;

static int text_hits(void *ctx, const char *s, size_t n)
{
    return peeka_redact_key(&((redactor *)ctx)->rules, s, n);
}

static int compile_one(probe *p, record_exprs *r, int k, const char *src, char *err, size_t errlen)
{
    char why[200];
    if (!(r->expr[k] = peeka_cond_compile(src, why, sizeof why))) {
        snprintf(err, errlen, "record expression %d '%.200s': %s", k + 1, src, why);
        return -1;
    }
    redactor *rules = p->fmt.redact;
    if (rules && peeka_cond_any_text(r->expr[k], text_hits, rules))
        r->named |= 1u << k;
    if (peeka_cond_uses(r->expr[k], "params"))
        r->positional |= 1u << k;
    if (peeka_cond_uses(r->expr[k], "kwargs"))
        r->keyword |= 1u << k;
    if (peeka_cond_uses(r->expr[k], "throwExp"))
        r->thrown |= 1u << k;
    if (peeka_cond_uses_method(r->expr[k], "values") || peeka_cond_uses_method(r->expr[k], "items"))
        r->unkeyed |= 1u << k;
    return 0;
}

int record_compile(probe *p, const cJSON *list, char *err, size_t errlen)
{
    if (!list)
        return 0;
    int n = cJSON_GetArraySize(list);
    if (!cJSON_IsArray(list) || n < 1 || n > RECORD_EXPRS_MAX) {
        snprintf(err, errlen, "probe %d: 'record' is not a list of 1 to %d expressions", p->id,
                 RECORD_EXPRS_MAX);
        return -1;
    }
    record_exprs *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p->rec = r;   /* freed by record_free whatever happens next */
    char why[200];
    if (!(r->message = peeka_cond_compile("throwExp", why, sizeof why))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, list) {
        if (!cJSON_IsString(e)) {
            snprintf(err, errlen, "probe %d: a record expression is not a string", p->id);
            return -1;
        }
        if (compile_one(p, r, r->n, e->valuestring, err, errlen) < 0)
            return -1;
        r->n++;
    }
    return 0;
}

void record_free(probe *p)
{
    record_exprs *r = p->rec;
    if (!r)
        return;
    for (int k = 0; k < r->n; k++)
        peeka_cond_free(r->expr[k]);
    if (r->message)
        peeka_cond_free(r->message);
    free(r);
    p->rec = NULL;
}

/* Does c pass, positionally (which = 0) or by keyword (1), an argument a
 * rule hides? */
static int hides_argument(redactor *rules, const call *c, int which)
{
    hooked *h = c->h;
    if (which == 0) {
        argnames_sync(h);   /* unknown names: redactor_param hides all */
        for (Py_ssize_t i = h->has_self ? 1 : 0; i < c->nargs; i++)
            if (redactor_param(rules, h, i))
                return 1;
        return 0;
    }
    Py_ssize_t nk = c->kwnames ? PyTuple_GET_SIZE(c->kwnames) : 0;
    for (Py_ssize_t i = 0; i < nk; i++)
        if (redactor_key(rules, PyTuple_GET_ITEM(c->kwnames, i)))
            return 1;
    return 0;
}

/* Does the call's exception message, as expressions see it, hold a
 * secret?  (Also when it cannot be told.) */
static int message_secret(const record_exprs *r, redactor *rules, const peeka_cond_env *env)
{
    if (!env->exc)
        return 0;
    PyObject *msg = peeka_cond_value(r->message, env, NULL, 0);
    Py_ssize_t n;
    const char *u = msg && PyUnicode_Check(msg) ? PyUnicode_AsUTF8AndSize(msg, &n) : NULL;
    char *clean = NULL;
    size_t clen;
    int rc = u ? peeka_redact_text(&rules->rules, u, (size_t)n, &clean, &clen) : -1;
    PyErr_Clear();
    Py_XDECREF(msg);
    free(clean);
    return rc != 0;
}

static int hidden(const record_exprs *r, redactor *rules, const call *c,
                  const peeka_cond_env *env, int k)
{
    unsigned bit = 1u << k;
    if (!rules)
        return 0;
    return (r->named & bit) || (r->unkeyed & bit) ||
           ((r->positional & bit) && hides_argument(rules, c, 0)) ||
           ((r->keyword & bit) && hides_argument(rules, c, 1)) ||
           ((r->thrown & bit) && message_secret(r, rules, env));
}

/* A failing expression: `"<error: Type: message>"`, the message cleaned
 * of `key=value` secrets like throwExp. */
static void write_error(jsonw *w, redactor *rules, const char *why)
{
    char text[300];
    int k = snprintf(text, sizeof text, "<error: %s>", why);
    size_t len = k < 0 ? 0 : (size_t)k < sizeof text ? (size_t)k : sizeof text - 1;
    char *clean = NULL;
    size_t clen;
    int rc = rules ? peeka_redact_text(&rules->rules, text, len, &clean, &clen) : 0;
    if (rc < 0)
        jsonw_lit(w, "\"<error: " PEEKA_REDACTED ">\"");
    else if (rc > 0)
        jsonw_str(w, clean, clen);
    else
        jsonw_str(w, text, len);
    free(clean);
}

void record_write(jsonw *w, probe *p, const call *c)
{
    record_exprs *r = p->rec;
    redactor *rules = p->fmt.redact;
    peeka_cond_env env;
    call_env(c, &env);
    jsonw_lit(w, ",\"record\":[");
    for (int k = 0; k < r->n; k++) {
        if (k) jsonw_char(w, ',');
        if (hidden(r, rules, c, &env, k)) {
            fmt_redacted(w);
            continue;
        }
        char why[256];
        PyObject *v = peeka_cond_value(r->expr[k], &env, why, sizeof why);
        if (v) {
            w->clean_text = 1;
            fmt_value(w, v, 1, p->depth);
            w->clean_text = 0;
            Py_DECREF(v);
        } else {
            write_error(w, rules, why);
        }
    }
    jsonw_char(w, ']');
}
