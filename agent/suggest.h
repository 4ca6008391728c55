/* Why a glob matched nothing in a module it found, and what would match
 * (suggest.c). */
#ifndef PEEKA_SUGGEST_H
#define PEEKA_SUGGEST_H

#include "agent.h"

/* A new list of pattern strings (at most 5), or NULL with an exception. */
PyObject *suggest_patterns(PyObject *m, PyObject *modname);

#endif
