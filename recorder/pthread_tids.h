/* The kernel's id of a thread of another process known only by its
 * pthread_t, as CPython 3.8-3.10 record it (PyThreadState.thread_id, no
 * native_thread_id yet).  On glibc a pthread_t is the address of the
 * thread's struct pthread, which holds the thread's id at an offset that
 * glibc does not publish, so it is found by what the process itself shows:
 * the one offset at which every thread's struct holds a distinct id of one
 * of its tasks (/proc/PID/task).  Read with process_vm_readv only. */
#ifndef PEEKA_PTHREAD_TIDS_H
#define PEEKA_PTHREAD_TIDS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* out[i] is the task id of the thread whose pthread_t is ids[i], for all
 * i < n; 0 for a thread whose struct cannot be read (it ended meanwhile),
 * and for all when no offset, or more than one mapping, fits (another C
 * library). */
void pk_pthread_tids(pid_t pid, const uint64_t *ids, size_t n, uint64_t *out);

#endif
