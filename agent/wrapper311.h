/* CPython 3.11 only: see hooks.c for why.  Built into every agent, empty
 * on the other versions. */
#ifndef PEEKA_WRAPPER311_H
#define PEEKA_WRAPPER311_H

#include "agent.h"

int  wrapper311_install(hooked *h, PyObject *ns, PyObject *key);
void wrapper311_remove(hooked *h);
int  wrapper311_ready(void);
/* The function behind one of our wrappers (borrowed), or NULL. */
PyObject *wrapper311_unwrap(PyObject *obj);

#endif
