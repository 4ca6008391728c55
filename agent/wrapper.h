/* Where CPython's specialising interpreter calls a Python function without
 * its vectorcall pointer, the function is also replaced, in the places
 * those call sites look it up, by a wrapper that calls the hook (wrapper.c):
 *   3.13+  Class(...) enters __init__ directly: the class's __init__
 *   3.14+  a property's getter is entered directly: the property's slots
 * Every replacement is undone at unhook, only where it is still ours. */
#ifndef PEEKA_WRAPPER_H
#define PEEKA_WRAPPER_H

#include "agent.h"

int  wrapper_install(hooked *h, PyObject *ns, PyObject *key);
void wrapper_remove(hooked *h);
int  wrapper_ready(void);
/* The function behind one of our wrappers (borrowed), or NULL. */
PyObject *wrapper_unwrap(PyObject *obj);

#endif
