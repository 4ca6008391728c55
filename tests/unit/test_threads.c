/* agent/threads.c: per-thread state lists, and what a forked child finds
 * in them.  Each check forks for real; the child reports through its exit
 * status, and an alarm turns a deadlock (a list lock inherited held) into
 * a failure instead of a hang. */
#include "../../agent/threads.h"

#include <check.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    thread_link link;   /* first, as the agent's states have it */
    int id;
} state;

static int dropped, dropped_ids;

static void count_drop(thread_link *l)
{
    dropped++;
    dropped_ids += ((state *)l)->id;
}

/* Runs body in a child; returns its exit status (-1: killed, e.g. by the alarm). */
static int in_child(int (*body)(void))
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        alarm(5);
        _exit(body());
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

typedef struct {
    state s;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int added, release;
} holder;

/* Lists its state, then waits to be released; unlists it on the way out,
 * as a key destructor would. */
static void *hold(void *arg)
{
    holder *h = arg;
    ck_assert_int_eq(threads_add(TK_TRACE, &h->s.link), 0);
    pthread_mutex_lock(&h->mu);
    h->added = 1;
    pthread_cond_broadcast(&h->cv);
    while (!h->release)
        pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
    threads_remove(TK_TRACE, &h->s.link);
    return NULL;
}

static holder holders[2];
static state mine = {.id = 100};

/* The two other threads are gone: exactly their states are dropped, once. */
static int child_drops_the_others(void)
{
    dropped = dropped_ids = 0;
    threads_drop_others(TK_TRACE, count_drop);
    if (dropped != 2 || dropped_ids != 1 + 2)
        return 1;
    threads_drop_others(TK_TRACE, count_drop);   /* only this thread's is left */
    if (dropped != 2)
        return 2;
    threads_drop_others(TK_EMIT, count_drop);    /* another kind: untouched */
    return dropped == 2 ? 0 : 3;
}

START_TEST(test_child_drops_other_threads_state)
{
    ck_assert_int_eq(threads_add(TK_TRACE, &mine.link), 0);
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        holder *h = &holders[i];
        *h = (holder){.s = {.id = i + 1}, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
        ck_assert_int_eq(pthread_create(&t[i], NULL, hold, h), 0);
        pthread_mutex_lock(&h->mu);
        while (!h->added)
            pthread_cond_wait(&h->cv, &h->mu);
        pthread_mutex_unlock(&h->mu);
    }
    ck_assert_int_eq(in_child(child_drops_the_others), 0);
    for (int i = 0; i < 2; i++) {
        pthread_mutex_lock(&holders[i].mu);
        holders[i].release = 1;
        pthread_cond_broadcast(&holders[i].cv);
        pthread_mutex_unlock(&holders[i].mu);
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
    }
    /* the parent's threads left and unlisted themselves: nothing to drop */
    dropped = 0;
    threads_drop_others(TK_TRACE, count_drop);
    ck_assert_int_eq(dropped, 0);
    threads_remove(TK_TRACE, &mine.link);
}
END_TEST

static atomic_int churning = 1;

/* Lists and unlists a state as fast as it can: a fork lands mid-change. */
static void *churn(void *arg)
{
    state *s = arg;
    while (atomic_load(&churning)) {
        if (threads_add(TK_EMIT, &s->link) != 0)
            return (void *)1;
        threads_remove(TK_EMIT, &s->link);
    }
    return NULL;
}

/* The list is whole and its lock free: at most the churning thread's
 * state, caught listed, is dropped. */
static int child_finds_list_whole(void)
{
    dropped = 0;
    threads_drop_others(TK_EMIT, count_drop);
    return dropped <= 1 ? 0 : 1;
}

START_TEST(test_fork_never_inherits_a_held_lock)
{
    static state s = {.id = 7};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, churn, &s), 0);
    for (int i = 0; i < 200; i++)
        ck_assert_int_eq(in_child(child_finds_list_whole), 0);
    atomic_store(&churning, 0);
    void *rc = (void *)1;
    ck_assert_int_eq(pthread_join(t, &rc), 0);
    ck_assert_ptr_null(rc);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("fork");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_child_drops_other_threads_state);
    tcase_add_test(tc, test_fork_never_inherits_a_held_lock);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
