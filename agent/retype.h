/* CPython 3.11: seeing every call of an observed function (retype.c).
 *
 * 3.11's eval loop inlines the call of any object whose type is exactly
 * `function`, in CALL and in its specialisations alike, without looking at
 * the vectorcall pointer the hook replaced: a call through a dict entry or a
 * bound method stored earlier never reaches the hook.  For the recording,
 * an observed function gets a type that is `function` in every respect but
 * identity (a static subtype with the same layout, slots and name), which
 * the eval loop does not inline: it calls it through vectorcall, i.e. the
 * hook.  Every other function is still inlined. */
#ifndef PEEKA_RETYPE_H
#define PEEKA_RETYPE_H

#include "agent.h"

/* 0, or -1 with an exception set (the function is then left as it was). */
int  retype_function(PyObject *func);
/* Puts `function` back as its type, if it is ours. */
void retype_restore(PyObject *func);
/* A Python function, whether retyped or not. */
int  is_function(PyObject *o);

#endif
