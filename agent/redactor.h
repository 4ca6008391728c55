/* A probe's redaction rules as the agent applies them (common/redact.h
 * has the rules themselves): format.c asks about every dict key and
 * attribute name, observe.c about every parameter.  The answer for an
 * exact str is cached by the key object itself, so the steady state is a
 * pointer compare per key, no regexec.  GIL held for everything here. */
#ifndef PEEKA_REDACTOR_H
#define PEEKA_REDACTOR_H

#include "agent.h"
#include "redact.h"

#define REDACT_CACHE 256          /* keys remembered per probe, a power of two */
#define REDACT_CACHE_KEY_MAX 64   /* longer keys are not kept alive by the cache */

typedef struct redactor {
    peeka_redact rules;
    struct {
        PyObject *key;            /* strong: its address cannot be reused while here */
        int hit;
    } cache[REDACT_CACHE];
} redactor;

redactor *redactor_new(void);
int  redactor_add(redactor *r, const char *rule, char *err, size_t errlen);
void redactor_free(redactor *r);

/* 1 when a value under this key or name must not leave the process: a str
 * (or bytes) a rule matches.  Other keys (ints, ...) never match. */
int redactor_key(redactor *r, PyObject *key);
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
