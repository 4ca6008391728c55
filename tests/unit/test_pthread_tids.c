/* recorder/pthread_tids.c on this very process: the kernel ids of its
 * threads found from their pthread_t alone, as for a CPython 3.8-3.10
 * target; a pthread_t that is not one (or whose thread ended) gives 0
 * for it without losing the others. */
#include "../../recorder/pthread_tids.h"

#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WORKERS 3

typedef struct worker {
    pthread_t self;
    pid_t tid;
    pthread_barrier_t *ready, *done;
} worker;

static void *park(void *arg)
{
    worker *w = arg;
    w->self = pthread_self();
    w->tid = (pid_t)syscall(SYS_gettid);
    pthread_barrier_wait(w->ready);
    pthread_barrier_wait(w->done);
    return NULL;
}

START_TEST(test_own_threads)
{
    pthread_barrier_t ready, done;
    worker w[WORKERS];
    pthread_t th[WORKERS];
    ck_assert_int_eq(pthread_barrier_init(&ready, NULL, WORKERS + 1), 0);
    ck_assert_int_eq(pthread_barrier_init(&done, NULL, WORKERS + 1), 0);
    for (int i = 0; i < WORKERS; i++) {
        w[i] = (worker){.ready = &ready, .done = &done};
        ck_assert_int_eq(pthread_create(&th[i], NULL, park, &w[i]), 0);
    }
    pthread_barrier_wait(&ready);
    /* this thread, the workers, and an id that is no thread's at all */
    uint64_t ids[WORKERS + 2] = {(uint64_t)pthread_self()}, out[WORKERS + 2];
    for (int i = 0; i < WORKERS; i++)
        ids[i + 1] = (uint64_t)w[i].self;
    ids[WORKERS + 1] = 8;   /* unmapped */
    pk_pthread_tids(getpid(), ids, WORKERS + 2, out);
    ck_assert_uint_eq(out[0], (uint64_t)syscall(SYS_gettid));
    for (int i = 0; i < WORKERS; i++)
        ck_assert_uint_eq(out[i + 1], (uint64_t)w[i].tid);
    ck_assert_uint_eq(out[WORKERS + 1], 0);
    pthread_barrier_wait(&done);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&ready);
    pthread_barrier_destroy(&done);
}
END_TEST

START_TEST(test_nothing_readable)
{
    uint64_t ids[2] = {0, 8}, out[2] = {5, 5};
    pk_pthread_tids(getpid(), ids, 2, out);
    ck_assert_uint_eq(out[0], 0);
    ck_assert_uint_eq(out[1], 0);
    pk_pthread_tids(getpid(), ids, 0, out);   /* no thread: nothing written */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pthread_tids");
    TCase *tc = tcase_create("pthread_tids");
    tcase_add_test(tc, test_own_threads);
    tcase_add_test(tc, test_nothing_readable);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
