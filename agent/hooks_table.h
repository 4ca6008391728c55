/* Function object -> hook, looked up on every observed call. */
#ifndef PEEKA_HOOKS_TABLE_H
#define PEEKA_HOOKS_TABLE_H

#include "agent.h"

hooked *hooks_table_find(PyObject *func);
int  hooks_table_add(hooked *h);
void hooks_table_remove(hooked *h);
int  hooks_table_collect(hooked **out, int max);
int  hooks_table_size(void);

#endif
