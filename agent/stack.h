/* The stack probe: the Python call stack at entry of each matching call. */
#ifndef PEEKA_STACK_H
#define PEEKA_STACK_H

#include "watch.h"

/* Emits the records the stack probes on c->h want; GIL held, reentered. */
void stack_observe(const call *c);

#endif
