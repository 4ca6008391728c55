/* Lists of per-thread state, by kind (threads.h). */
#include "threads.h"

typedef struct {
    pthread_mutex_t mu;
    thread_link head;           /* circular: head.next == &head when empty */
} registry;

static registry lists[TK_COUNT] = {
    [TK_EMIT] = {PTHREAD_MUTEX_INITIALIZER, {&lists[TK_EMIT].head, &lists[TK_EMIT].head, 0}},
    [TK_TRACE] = {PTHREAD_MUTEX_INITIALIZER, {&lists[TK_TRACE].head, &lists[TK_TRACE].head, 0}},
};

static pthread_once_t handlers_once = PTHREAD_ONCE_INIT;
static int handlers_rc;

/* A thread that is adding or removing its state while another one forks
 * must not leave the child a list half changed or a mutex held. */
static void lock_all(void)
{
    for (int k = 0; k < TK_COUNT; k++)
        pthread_mutex_lock(&lists[k].mu);
}

static void unlock_all(void)
{
    for (int k = TK_COUNT - 1; k >= 0; k--)
        pthread_mutex_unlock(&lists[k].mu);
}

static void install_handlers(void)
{
    handlers_rc = pthread_atfork(lock_all, unlock_all, unlock_all);
}

int threads_add(enum thread_kind k, thread_link *l)
{
    pthread_once(&handlers_once, install_handlers);
    if (handlers_rc != 0)
        return -1;
    registry *r = &lists[k];
    l->owner = pthread_self();
    pthread_mutex_lock(&r->mu);
    l->next = r->head.next;
    l->prev = &r->head;
    r->head.next->prev = l;
    r->head.next = l;
    pthread_mutex_unlock(&r->mu);
    return 0;
}

static void unlink_one(thread_link *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->prev = l->next = l;
}

void threads_remove(enum thread_kind k, thread_link *l)
{
    pthread_mutex_lock(&lists[k].mu);
    unlink_one(l);
    pthread_mutex_unlock(&lists[k].mu);
}

/* The states are taken off under the lock and dropped after it: dropping
 * may free Python objects, whose finalizers could start a thread. */
void threads_drop_others(enum thread_kind k, void (*drop)(thread_link *l))
{
    registry *r = &lists[k];
    pthread_t me = pthread_self();
    thread_link *gone = NULL;
    pthread_mutex_lock(&r->mu);
    for (thread_link *l = r->head.next, *next; l != &r->head; l = next) {
        next = l->next;
        if (pthread_equal(l->owner, me))
            continue;
        unlink_one(l);
        l->next = gone;
        gone = l;
    }
    pthread_mutex_unlock(&r->mu);
    while (gone) {
        thread_link *l = gone;
        gone = l->next;
        drop(l);
    }
}
