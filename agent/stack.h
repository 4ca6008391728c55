/* The stack probe: the Python call stack at entry of each matching call. */
#ifndef PEEKA_STACK_H
#define PEEKA_STACK_H

#include "observe.h"

/* Emits the records the stack probes on c->h want; inside the guard (observe.h). */
void stack_observe(const call *c);

#endif
