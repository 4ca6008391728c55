/* A probe's redaction rules as the agent applies them (common/redact.h
 * has the rules themselves): format.c asks about every dict key and
 * attribute name, observe.c about every parameter.  The answer for an
 * exact str is cached by the key object itself, so the steady state is a
 * pointer compare per key, no regexec.  GIL held for everything here. */
#ifndef PEEKA_REDACTOR_H
#define PEEKA_REDACTOR_H

#include "agent.h"
#include "redact.h"

#include <stdint.h>

#define REDACT_CACHE 256          /* keys remembered per probe, a power of two */
#define REDACT_WAYS 4             /* neighbouring slots a key may take */
#define REDACT_CACHE_KEY_MAX 64   /* longer keys are not kept alive by the cache */

typedef struct redactor {
    peeka_redact rules;
    struct {
        PyObject *key;            /* strong: its address cannot be reused while here */
        int hit;
    } cache[REDACT_CACHE];
    unsigned evict;               /* which of the ways a full set gives up next */
} redactor;

redactor *redactor_new(void);
int  redactor_add(redactor *r, const char *rule, char *err, size_t errlen);
void redactor_free(redactor *r);

/* The first cache slot of an exact str key: Fibonacci hashing of its
 * address (the next REDACT_WAYS - 1 slots may hold it too). */
static inline size_t redactor_slot(const PyObject *key)
{
    uint64_t a = (uint64_t)(uintptr_t)key >> 4;
    return (size_t)((a * 0x9E3779B97F4A7C15ull) >> 40) & (REDACT_CACHE - 1);
}

int redactor_key_slow(redactor *r, PyObject *key);

/* 1 when a value under this key or name must not leave the process: a str
 * (or bytes) a rule matches.  Other keys (ints, ...) never match.  Inline
 * for the steady state: a key seen before, in its first slot. */
static inline int redactor_key(redactor *r, PyObject *key)
{
    if (PyUnicode_CheckExact(key)) {
        size_t s = redactor_slot(key);
        if (r->cache[s].key == key)
            return r->cache[s].hit;
    }
    return redactor_key_slow(r, key);
}
/* Positional argument i (self included) of a call of h; when h's names
 * are unknown (argnames_sync failed) every argument is redacted. */
int redactor_param(redactor *r, hooked *h, Py_ssize_t i);
/* An exception message with `key=value` values replaced: a new reference
 * (msg itself when nothing matched); steals msg. */
PyObject *redactor_message(redactor *r, PyObject *msg);

/* argnames.c: the names of h's positional parameters, read again when its
 * code object changed.  0, or -1 when they cannot be read. */
int argnames_sync(hooked *h);
/* The name of positional argument i (self included), borrowed; NULL past
 * the named ones without *args, or when argnames_sync failed. */
PyObject *argnames_at(const hooked *h, Py_ssize_t i);
/* `,"param_names":[...]` for the records, or nothing when unknown. */
void argnames_write(jsonw *w, const hooked *h);
void argnames_free(hooked *h);

#endif
