/* Per-thread state the agent allocates (emit.c's writer and holds, trace.c's
 * tree) is freed by a pthread key destructor when its thread exits.  In a
 * forked child only the forking thread is left, and no destructor will ever
 * run for the others: each kind of state is listed here, so that the child
 * can free what belonged to the threads that are gone.
 *
 * A state embeds a thread_link as its first member.  Adding and removing
 * take a mutex (a destructor runs without the GIL); it is held across
 * fork() so a child never inherits it locked. */
#ifndef PEEKA_THREADS_H
#define PEEKA_THREADS_H

#include <pthread.h>

typedef struct thread_link {
    struct thread_link *prev, *next;
    pthread_t owner;
} thread_link;

enum thread_kind { TK_EMIT, TK_TRACE, TK_COUNT };

/* The calling thread's state l joins the list of its kind; -1 when the
 * fork handlers cannot be installed (then l is not listed). */
int  threads_add(enum thread_kind k, thread_link *l);
/* Its thread is exiting (the key destructor). */
void threads_remove(enum thread_kind k, thread_link *l);
/* In a forked child, GIL held: each listed state of another thread leaves
 * the list and is handed to drop, which frees it. */
void threads_drop_others(enum thread_kind k, void (*drop)(thread_link *l));

#endif
