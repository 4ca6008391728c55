/* Redaction inside the agent (redactor.h): the rules' answers cached per
 * key object, parameter names, exception messages.  No Python-level `re`
 * and no code of the application: regexec on the key's UTF-8. */
#include "redactor.h"

#include <stdint.h>
#include <stdlib.h>

redactor *redactor_new(void)
{
    redactor *r = calloc(1, sizeof *r);
    if (r)
        peeka_redact_init(&r->rules);
    return r;
}

int redactor_add(redactor *r, const char *rule, char *err, size_t errlen)
{
    return peeka_redact_add(&r->rules, rule, err, errlen);
}

void redactor_free(redactor *r)
{
    if (!r)
        return;
    for (int i = 0; i < REDACT_CACHE; i++)
        Py_CLEAR(r->cache[i].key);
    peeka_redact_free(&r->rules);
    free(r);
}

static int match_str(redactor *r, PyObject *key)
{
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(key, &n);
    if (!u) {   /* lone surrogates: formatting shows such a key as unprintable */
        PyErr_Clear();
        return 0;
    }
    return peeka_redact_key(&r->rules, u, (size_t)n);
}

/* Only exact str is cached: a subclass's instance could carry a __del__,
 * and the cache's reference decides when that runs. */
int redactor_key_slow(redactor *r, PyObject *key)
{
    if (PyBytes_Check(key))
        return peeka_redact_key(&r->rules, PyBytes_AS_STRING(key), (size_t)PyBytes_GET_SIZE(key));
    if (!PyUnicode_Check(key))
        return 0;
    if (!PyUnicode_CheckExact(key) || PyUnicode_GET_LENGTH(key) > REDACT_CACHE_KEY_MAX)
        return match_str(r, key);
    /* REDACT_WAYS neighbouring slots: two hot keys that share a slot must
     * not evict each other on every call (a miss is a regexec, a hundred
     * times a hit). */
    size_t base = redactor_slot(key), slot = base;
    for (int i = 0; i < REDACT_WAYS; i++) {
        size_t s = (base + (size_t)i) & (REDACT_CACHE - 1);
        if (r->cache[s].key == key)
            return r->cache[s].hit;
        if (!r->cache[s].key)
            slot = s;
    }
    if (r->cache[slot].key)   /* all taken: evict in turn */
        slot = (base + (size_t)(r->evict++ % REDACT_WAYS)) & (REDACT_CACHE - 1);
    int hit = match_str(r, key);
    PyObject *old = r->cache[slot].key;
    Py_INCREF(key);
    r->cache[slot].key = key;
    r->cache[slot].hit = hit;
    Py_XDECREF(old);   /* an exact str: its deallocation runs no code */
    return hit;
}

int redactor_param(redactor *r, hooked *h, Py_ssize_t i)
{
    if (!h->argnames)   /* unknown names: nothing positional may pass */
        return 1;
    PyObject *name = argnames_at(h, i);
    return name ? redactor_key(r, name) : 0;
}

PyObject *redactor_message(redactor *r, PyObject *msg)
{
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(msg, &n);
    char *out = NULL;
    size_t outlen = 0;
    int rc = u ? peeka_redact_text(&r->rules, u, (size_t)n, &out, &outlen) : -1;
    if (rc == 0)
        return msg;
    PyErr_Clear();
    PyObject *s = rc > 0 ? PyUnicode_DecodeUTF8(out, (Py_ssize_t)outlen, "replace") : NULL;
    free(out);
    Py_DECREF(msg);
    if (!s) {   /* the message cannot be shown without what it holds */
        PyErr_Clear();
        s = PyUnicode_FromString(PEEKA_REDACTED);
    }
    return s;
}
