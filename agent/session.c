/* The agent's single native thread: it owns the socket to peeka-rec, drains
 * the ring into RECORDS frames, answers requests (taking the GIL only for
 * those), and tears everything down on every way a session can end:
 * detach request, recorder gone (EOF), recorder hung (lease expired or a
 * send that cannot complete), deadline passed, interpreter exiting, and,
 * in a child the process forked, the fork itself. */
#include "session.h"
#include "exec_children.h"
#include "sampler.h"
#include "hooks.h"
#include "observe.h"
#include "frame.h"
#include "monitor.h"
#include "interp_probes.h"
#include "segments.h"
#include "trace.h"

#include <cJSON.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

agent g_agent;

typedef struct {
    int fd;
    pthread_t thread;
    int joinable;
    int64_t lease_ns, deadline_ns, last_rx_ns;
    peeka_fdec dec;
    uint8_t *sendbuf;
    size_t sendcap;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready, finished;
    atomic_int exiting;         /* atexit: the main thread has already unhooked */
    char *final_stats;          /* the last word, built with the GIL */
    char path[108];             /* the recorder's socket */
    char token[80];             /* and the token it gave: a followed child says it again */
    int follow;                 /* WELCOME's follow_forks: forked children stay recorded */
} session;

static session S = {.fd = -1, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* Held wherever S.fd is set or closed, and across fork() (fork_prepare):
 * a child must never inherit a descriptor number that is closed meanwhile
 * and then reused by the application. */
static pthread_mutex_t fd_mu = PTHREAD_MUTEX_INITIALIZER;
/* A session was active when this process was forked from its parent: the
 * child still has to undo it (session_after_fork). */
static atomic_int fork_undo_due;
/* The same, with --follow-forks: the child goes on recording instead
 * (follow_child). */
static atomic_int fork_follow_due;
/* session_start is opening a session (it can let the GIL go meanwhile). */
static int opening;
/* This thread is the agent thread (session_quiesce_tick). */
static _Thread_local int on_agent_thread;
/* peeka-rec --uninstall: the agent thread ends the session now. */
static atomic_int purge_due;

int session_active(void)
{
    return g_agent.active;
}

int session_follows(void)
{
    return g_agent.active && S.follow;
}

static int is_finalizing(void)
{
#if PY_VERSION_HEX >= 0x030D0000
    return Py_IsFinalizing();
#else
    return _Py_IsFinalizing();
#endif
}

static int send_frame(uint8_t type, const void *body, size_t len)
{
    int ms = S.lease_ns ? (int)(S.lease_ns / 1000000) : 5000;
    return peeka_frame_send_within(S.fd, type, body, len, ms) == PFE_OK ? 0 : -1;
}

/* The recorder is gone (killed) or unresponsive: nobody else will remove
 * its socket, and a socket file must not outlive the recording.  The
 * directory goes too when that leaves it empty: peeka-rec deletes its
 * launch-mode bootstrap as soon as the agent has connected, but keeps the
 * PEP 768 one (remote-exec.py) to the end, for a thread that raced the
 * withdrawal of its request, so that one is ours to remove here. */
static void remove_socket_file(void)
{
    if (!S.path[0])
        return;
    if (unlink(S.path) == 0) {
        char *slash = strrchr(S.path, '/');
        if (slash) {
            snprintf(slash + 1, sizeof S.path - (size_t)(slash + 1 - S.path), "remote-exec.py");
            (void)unlink(S.path);   /* only there after a PEP 768 attach */
            *slash = 0;
            (void)rmdir(S.path);   /* fails harmlessly if not empty */
        }
    }
    S.path[0] = 0;
}

static void adopt_socket(int fd)
{
    pthread_mutex_lock(&fd_mu);
    S.fd = fd;
    pthread_mutex_unlock(&fd_mu);
}

/* Only the parent's own ending shuts the connection down: a forked child
 * shares it and merely closes its copy (fork_child). */
static void close_socket(void)
{
    pthread_mutex_lock(&fd_mu);
    if (S.fd >= 0) {
        (void)shutdown(S.fd, SHUT_RDWR);   /* fails only if the recorder is gone already */
        (void)close(S.fd);                 /* Linux frees the number even when this fails */
    }
    S.fd = -1;
    pthread_mutex_unlock(&fd_mu);
}

/* A batch's segments are defined before it (segments.h: the count is
 * read after the pop). */
static int drain_ring(void)
{
    size_t n;
    while ((n = ring_pop(&g_agent.rb, S.sendbuf, S.sendcap)) > 0)
        if (seg_send_new(send_frame) < 0 || send_frame(PF_RECORDS, S.sendbuf, n) < 0)
            return -1;
    return 0;
}

/* Nothing will drain the ring any more: --lossless waiters give up. */
static void sender_done(void)
{
    atomic_store(&g_agent.sender_gone, 1);
}

/* observe_quiesce, GIL released: while the agent thread waits for hooks to
 * leave the guard, a --lossless hook in there may be waiting for room in
 * the ring, which only this thread makes. */
void session_quiesce_tick(void)
{
    if (!on_agent_thread || !g_agent.lossless || atomic_load(&g_agent.sender_gone) || S.fd < 0)
        return;
    if (drain_ring() < 0)
        sender_done();
}

/* Undo every hook; with the GIL.  Records already in the ring still go out. */
static void unhook_all(const char *reason)
{
    atomic_store(&g_agent.stopping, 1);
    hooks_remove_all();
    exec_children_end();
    pending_remove();
    snap_probes_end();   /* last snapshots, levels and handlers back: before the counts */
    free(S.final_stats);
    S.final_stats = commands_stats_json("reason", reason);
    PyErr_Clear();
}

static void unregister_atexit(void)
{
    PyObject *ax = PyImport_ImportModule("atexit");
    PyObject *mod = PyImport_AddModule("_peeka_agent");   /* borrowed */
    PyObject *fn = mod ? PyObject_GetAttrString(mod, "_atexit") : NULL;
    if (ax && fn) {
        PyObject *r = PyObject_CallMethod(ax, "unregister", "O", fn);
        Py_XDECREF(r);
    }
    Py_XDECREF(fn);
    Py_XDECREF(ax);
    PyErr_Clear();
}

static void handle_frame(uint8_t type, const uint8_t *body, uint32_t len, int *detach, double *detach_id)
{
    if (type != PF_REQUEST)
        return;   /* the recorder sends only requests after WELCOME */
    int ready = 0;
    char *reply;
    if (commands_need_gil((const char *)body, len)) {
        PyGILState_STATE g = PyGILState_Ensure();
        reply = commands_handle((const char *)body, len, detach, &ready);
        PyGILState_Release(g);
    } else {
        reply = commands_handle((const char *)body, len, detach, &ready);
    }
    if (*detach) {   /* answered after the teardown, with the final counts */
        cJSON *req = cJSON_ParseWithLength((const char *)body, len);
        cJSON *id = req ? cJSON_GetObjectItemCaseSensitive(req, "id") : NULL;
        *detach_id = cJSON_IsNumber(id) ? id->valuedouble : 0;
        cJSON_Delete(req);
    } else if (reply) {
        send_frame(PF_REPLY, reply, strlen(reply));
    }
    cJSON_free(reply);
    if (ready) {
        pthread_mutex_lock(&S.mu);
        S.ready = 1;
        pthread_cond_broadcast(&S.cv);
        pthread_mutex_unlock(&S.mu);
    }
}

/* Frames already buffered are handled first: WELCOME and the first request
 * can arrive in one read. */
static int handle_buffered(int *detach, double *detach_id)
{
    uint8_t type;
    const uint8_t *body;
    uint32_t len;
    int rc = 0;
    while (!*detach && (rc = peeka_fdec_next(&S.dec, &type, &body, &len)) == 1)
        handle_frame(type, body, len, detach, detach_id);
    return *detach ? 0 : rc;
}

/* One pass of reading; returns a reason to stop, or NULL. */
static const char *read_requests(int readable, int *detach, double *detach_id)
{
    if (readable) {
        size_t room;
        uint8_t *space = peeka_fdec_space(&S.dec, &room);
        ssize_t n = recv(S.fd, space, room, MSG_DONTWAIT);
        if (n == 0)
            return "recorder-closed";
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return "recorder-error";
        if (n > 0) {
            peeka_fdec_commit(&S.dec, (size_t)n);
            S.last_rx_ns = now_mono_ns();
        }
    }
    int rc = handle_buffered(detach, detach_id);
    if (rc < 0) {   /* say why before hanging up, so the recorder can report it */
        char msg[160];
        int n = snprintf(msg, sizeof msg, "{\"id\":0,\"ok\":false,\"error\":\"malformed frame: %s\"}",
                         peeka_frame_strerror(rc));
        send_frame(PF_REPLY, msg, (size_t)n);
        return "protocol-error";
    }
    return NULL;
}

static int send_records(const char *jsonl, size_t len)
{
    return seg_send_new(send_frame) < 0 ? -1 : send_frame(PF_RECORDS, jsonl, len);
}

static int discard_records(const char *jsonl, size_t len)
{
    (void)jsonl;
    (void)len;
    return 0;
}

static const char *run_loop(int *detach, double *detach_id)
{
    for (;;) {
        if (atomic_load(&S.exiting))
            return "target-exiting";
        if (atomic_load(&purge_due))
            return "uninstalled";
        struct pollfd pfd = {S.fd, POLLIN, 0};
        int pr = poll(&pfd, 1, 5);
        if (pr < 0 && errno != EINTR)
            return "poll-error";
        const char *why = read_requests(pr > 0, detach, detach_id);
        if (why)
            return why;
        if (*detach)
            return "detach";
        if (drain_ring() < 0)
            return "recorder-not-reading";
        clock_sync();
        int64_t now = now_mono_ns();
        if (monitor_tick(now, 0, send_records) < 0 || sampler_tick(now, 0, send_records) < 0)
            return "recorder-not-reading";
        if (now - S.last_rx_ns > S.lease_ns)
            return "lease-expired";
        if (S.deadline_ns && now > S.deadline_ns)
            return "deadline";
    }
}

/* Probes and the ring go only when no hook is inside the observation
 * guard (observe.h): hooks there read their probe and write into the ring.
 * Else a hook is stuck in user code: leak rather than crash. */
static void release_state(void)
{
    if (commands_free_probes())
        ring_free(&g_agent.rb);
    else
        leftover_ring_keep(&g_agent.rb);
    g_agent.active = 0;
}

/* Reads WELCOME on the agent thread: start() must not wait for it, since
 * an attaching recorder is still busy injecting until start() returns. */
static int read_welcome(int fd)
{
    uint8_t type = 0;
    const uint8_t *body = NULL;
    uint32_t len = 0;
    int rc = 0;
    for (int64_t end = now_mono_ns() + 10000000000LL; rc == 0 && now_mono_ns() < end; ) {
        if ((rc = peeka_fdec_next(&S.dec, &type, &body, &len)) != 0)
            break;
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        size_t room;
        uint8_t *sp = peeka_fdec_space(&S.dec, &room);
        ssize_t n = recv(fd, sp, room, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;   /* ptrace stops during an attach interrupt syscalls */
        if (n <= 0)
            return -1;
        peeka_fdec_commit(&S.dec, (size_t)n);
    }
    if (rc != 1 || type != PF_WELCOME)
        return -1;
    cJSON *w = cJSON_ParseWithLength((const char *)body, len);
    const cJSON *lease = cJSON_GetObjectItemCaseSensitive(w, "lease_ms");
    const cJSON *dl = cJSON_GetObjectItemCaseSensitive(w, "deadline_ms");
    S.follow = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(w, "follow_forks"));
    seg_enable(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(w, "segments")));
    g_record_pid = S.follow ? (int)getpid() : 0;
    S.lease_ns = (int64_t)(cJSON_IsNumber(lease) ? lease->valuedouble : 5000) * 1000000;
    S.deadline_ns = cJSON_IsNumber(dl) && dl->valuedouble > 0
                        ? now_mono_ns() + (int64_t)dl->valuedouble * 1000000 : 0;
    cJSON_Delete(w);
    S.last_rx_ns = now_mono_ns();
    return 0;
}

/* Is the recorder still there to hear the last records and counts?  When
 * it vanished or stopped answering, trying would only hold the target's
 * agent thread for another send deadline.  --uninstall may end a session
 * whose recorder still records: it gets everything, then EOF. */
static int recorder_listening(const char *reason)
{
    return !strcmp(reason, "detach") || !strcmp(reason, "target-exiting") ||
           !strcmp(reason, "deadline") || !strcmp(reason, "uninstalled");
}

static void send_last_word(int detach, double detach_id)
{
    if (!S.final_stats)
        return;
    if (!detach) {
        send_frame(PF_EVENT, S.final_stats, strlen(S.final_stats));
        return;
    }
    cJSON *r = cJSON_Parse(S.final_stats);
    if (!r)
        return;
    cJSON_DeleteItemFromObject(r, "event");
    cJSON_AddNumberToObject(r, "id", detach_id);
    cJSON_AddBoolToObject(r, "ok", 1);
    char *s = cJSON_PrintUnformatted(r);
    if (s)
        send_frame(PF_REPLY, s, strlen(s));
    cJSON_free(s);
    cJSON_Delete(r);
}

static void *agent_thread(void *arg)
{
    (void)arg;
    on_agent_thread = 1;
    int detach = 0;
    double detach_id = 0;
    const char *reason = read_welcome(S.fd) < 0 ? "no-welcome" : run_loop(&detach, &detach_id);
    if (!recorder_listening(reason))
        sender_done();   /* before taking the GIL: a waiting hook lets it go for us */
    sampler_stop(is_finalizing());
    if (recorder_listening(reason))
        sampler_tick(now_mono_ns(), 0, send_records);   /* its last records, counted before the final stats */
    if (!atomic_load(&S.exiting) && !is_finalizing()) {
        PyGILState_STATE g = PyGILState_Ensure();
        unhook_all(reason);
        unregister_atexit();
        observe_quiesce();   /* records still being written make the last drain */
        PyGILState_Release(g);
    }
    if (recorder_listening(reason)) {
        drain_ring();
        monitor_tick(now_mono_ns(), 1, send_records);   /* the interval in progress; hooks are gone */
        send_last_word(detach, detach_id);
    }
    sender_done();
    sampler_tick(now_mono_ns(), 1, discard_records);   /* forgets the session's thread and top probes */
    close_socket();
    seg_end();
    if (!recorder_listening(reason))
        remove_socket_file();
    if (!atomic_load(&S.exiting) && !is_finalizing()) {
        PyGILState_STATE g = PyGILState_Ensure();
        release_state();
        PyGILState_Release(g);
    }
    pthread_mutex_lock(&S.mu);
    S.finished = 1;
    pthread_cond_broadcast(&S.cv);
    pthread_mutex_unlock(&S.mu);
    return NULL;
}

void session_shutdown(void)
{
    if (!g_agent.active || !S.joinable)
        return;
    unhook_all("target-exiting");
    observe_quiesce();
    atomic_store(&S.exiting, 1);
    Py_BEGIN_ALLOW_THREADS
    pthread_join(S.thread, NULL);
    Py_END_ALLOW_THREADS
    S.joinable = 0;
    release_state();
    unregister_atexit();
}

static int connect_socket(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        PyErr_Format(PyExc_OSError, "socket path too long: %s", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        PyErr_SetFromErrnoWithFilename(PyExc_OSError, path);
        close(fd);
        return -1;
    }
    return fd;
}

/* The socket's buffer is slack behind the ring: while peeka-rec is busy
 * compressing, the agent thread can still hand it a batch and go on
 * draining.  The kernel caps the size at net.core.wmem_max (often 208K;
 * then this changes nothing); at most 4 MiB of kernel memory. */
static void widen_send_buffer(int fd, size_t ring_bytes)
{
    int v = ring_bytes < (4u << 20) ? (int)ring_bytes : 4 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v) < 0) {
        /* only a smaller cushion: the default buffer works as before */
    }
}

/* parent: a followed child's parent pid (0 otherwise). */
static char *hello_json(const char *token, int busy, int parent)
{
    cJSON *h = cJSON_CreateObject();
    /* The running interpreter's version, not the headers' (3.11.2 vs 3.11.7). */
    char ver[32];
    snprintf(ver, sizeof ver, "%s", Py_GetVersion());
    ver[strcspn(ver, " ")] = 0;
    cJSON_AddNumberToObject(h, "proto", PEEKA_PROTO_VERSION);
    cJSON_AddStringToObject(h, "token", token);
    cJSON_AddNumberToObject(h, "pid", getpid());
    cJSON_AddStringToObject(h, "python", ver);
    cJSON_AddStringToObject(h, "agent", PEEKA_VERSION);
    cJSON_AddBoolToObject(h, "busy", busy);
    if (parent)
        cJSON_AddNumberToObject(h, "parent", parent);
    char *s = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    return s;
}

/* A second recorder gets a clear "busy" instead of a second agent. */
static int say_busy(const char *path, const char *token)
{
    int fd = connect_socket(path);
    if (fd < 0)
        return -1;
    char *h = hello_json(token, 1, 0);
    if (h) peeka_frame_send(fd, PF_HELLO, h, strlen(h));
    cJSON_free(h);
    close(fd);
    PyErr_SetString(PyExc_RuntimeError, "peeka: this process is already being recorded");
    return -1;
}

static int register_atexit(void)
{
    PyObject *ax = PyImport_ImportModule("atexit");
    PyObject *mod = PyImport_AddModule("_peeka_agent");
    PyObject *fn = mod ? PyObject_GetAttrString(mod, "_atexit") : NULL;
    PyObject *r = ax && fn ? PyObject_CallMethod(ax, "register", "O", fn) : NULL;
    Py_XDECREF(r);
    Py_XDECREF(fn);
    Py_XDECREF(ax);
    return r ? 0 : -1;
}

/* fork(): the child gets a copy of every hook, probe and buffer, but not
 * the agent thread.  Inside fork() the child's interpreter is not usable
 * yet, so this only does what must happen at once, without Python or
 * malloc: hooks pass calls through from the first instruction, the
 * child's copy of the socket is closed (never shut down: the connection is
 * the parent's too), and what other threads may have held is reset.  The
 * rest is session_after_fork's, once the child's interpreter runs. */
static void fork_prepare(void)
{
    pthread_mutex_lock(&fd_mu);
}

static void fork_parent(void)
{
    pthread_mutex_unlock(&fd_mu);
}

static void fork_child(void)
{
    int saved = errno;
    opening = 0;   /* a thread the child does not have was opening one */
    atomic_store(&g_agent.stopping, 1);
    if (S.fd >= 0)
        (void)close(S.fd);   /* Linux frees the number even when this fails */
    S.fd = -1;
    pthread_mutex_unlock(&fd_mu);
    S.joinable = 0;   /* the agent thread is the parent's: never join it here */
    sampler_fork_child();
    S.mu = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;   /* the parent's threads may hold or wait */
    S.cv = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
    exec_children_fork_child();
    if (g_agent.active)
        atomic_store(S.follow ? &fork_follow_due : &fork_undo_due, 1);
    errno = saved;
}

/* Sets up both halves of the fork handling, each once per process (a
 * forked child inherits both registrations, and these flags with them):
 * pthread_atfork handlers cannot be removed, and neither can
 * os.register_at_fork's, which is why session_after_fork does nothing
 * unless a session was active at the fork. */
static int watch_forks(void)
{
    static int c_done, py_done;
    if (!c_done) {
        int e = pthread_atfork(fork_prepare, fork_parent, fork_child);
        if (e != 0) {
            errno = e;
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        c_done = 1;
    }
    if (!py_done) {
        PyObject *os = PyImport_ImportModule("os");
        PyObject *mod = PyImport_AddModule("_peeka_agent");   /* borrowed */
        PyObject *reg = os ? PyObject_GetAttrString(os, "register_at_fork") : NULL;
        PyObject *fn = reg && mod ? PyObject_GetAttrString(mod, "_after_fork") : NULL;
        PyObject *kw = fn ? Py_BuildValue("{s:O}", "after_in_child", fn) : NULL;
        PyObject *args = kw ? PyTuple_New(0) : NULL;
        PyObject *r = args ? PyObject_Call(reg, args, kw) : NULL;
        py_done = r != NULL;
        Py_XDECREF(r);
        Py_XDECREF(args);
        Py_XDECREF(kw);
        Py_XDECREF(fn);
        Py_XDECREF(reg);
        Py_XDECREF(os);
        if (!py_done)
            return -1;
    }
    return 0;
}

/* Everything of the last session the next one must not see: its buffers,
 * probes' slots, counts and lease. */
static void forget_session(void)
{
    peeka_fdec_free(&S.dec);
    free(S.sendbuf);
    S.sendbuf = NULL;
    S.sendcap = 0;
    free(S.final_stats);
    S.final_stats = NULL;
    S.lease_ns = S.deadline_ns = S.last_rx_ns = 0;
    S.ready = S.finished = 0;
    S.path[0] = 0;
    S.token[0] = 0;
    S.follow = 0;
    int observing = g_agent.observing;   /* hooks a previous session leaked to */
    memset(&g_agent, 0, sizeof g_agent);
    g_agent.observing = observing;
}

static int start_thread(void);

/* A multiprocessing child ends in os._exit(), which runs no atexit
 * callback, so the agent would not send its last records; its
 * Process._bootstrap calls threading._shutdown() first, which runs what
 * threading._register_atexit (3.9+) registered; 3.8 has no such list, and
 * multiprocessing.util._exit_function is wrapped instead
 * (exec_children.c).  A second session_shutdown (at atexit) does nothing. */
static void flush_before_exit(void)
{
    PyObject *th = PyImport_ImportModule("threading");
    PyObject *reg = th ? PyObject_GetAttrString(th, "_register_atexit") : NULL;
    PyObject *mod = PyImport_AddModule("_peeka_agent");   /* borrowed */
    PyObject *fn = reg && mod ? PyObject_GetAttrString(mod, "_atexit") : NULL;
    PyObject *r = fn ? PyObject_CallFunctionObjArgs(reg, fn, NULL) : NULL;
    Py_XDECREF(r);
    Py_XDECREF(fn);
    Py_XDECREF(th);
    PyErr_Clear();
    if (!reg)
        exec_children_flush_at_exit_function();   /* 3.8 */
    Py_XDECREF(reg);
}

/* --follow-forks, in a child forked during the session, GIL held: the
 * session goes on here, on a connection of the child's own to the same
 * recorder (HELLO with the same token and the parent's pid), with the
 * probes the child inherited.  What the other threads held goes as in an
 * undo; the parent's records still in the ring are the parent's to send.
 * -1 when the recorder cannot be reached: the caller undoes instead. */
static int follow_child(void)
{
    emit_after_fork();
    trace_after_fork();
    seg_after_fork(1);   /* a new connection, and records that name this pid */
    g_agent.observing = thread_reentered();
    while (ring_pop(&g_agent.rb, S.sendbuf, S.sendcap) > 0)
        ;
    peeka_fdec_free(&S.dec);
    S.ready = S.finished = 0;
    atomic_store(&S.exiting, 0);
    if (peeka_fdec_init(&S.dec, PEEKA_FRAME_MAX) < 0)
        return -1;
    int fd = connect_socket(S.path);
    if (fd < 0) {
        PyErr_Clear();
        return -1;
    }
    adopt_socket(fd);
    g_record_pid = (int)getpid();
    char *h = hello_json(S.token, 0, (int)getppid());
    int sent = h && peeka_frame_send(S.fd, PF_HELLO, h, strlen(h)) == PFE_OK;
    cJSON_free(h);
    atomic_store(&g_agent.stopping, 0);
    if (!sent || start_thread() < 0) {
        atomic_store(&g_agent.stopping, 1);
        close_socket();
        PyErr_Clear();
        return -1;
    }
    flush_before_exit();
    return 0;
}

/* In a forked child, GIL held, before os.fork() returns there (and at the
 * latest when a recorder attaches to the child): what the session did to
 * the interpreter is undone as its end would have undone it, and then
 * forgotten, so the child is as if never attached and its first recording
 * starts afresh.  The other threads are gone with whatever they were
 * doing: their calls never return, so their holds on hooked functions and
 * their per-thread state go; only this thread can still be inside the
 * observation guard (a watched function that called os.fork() returns
 * through its hook later, which then emits nothing: stopping, and its
 * function is unhooked).  When this thread is inside the guard the probes
 * and the ring stay allocated, as after a quiesce that timed out. */
void session_after_fork(void)
{
    if (atomic_exchange(&fork_follow_due, 0)) {
        if (follow_child() == 0)
            return;
        atomic_store(&fork_undo_due, 1);   /* the recorder is gone: as without --follow-forks */
    }
    if (!atomic_exchange(&fork_undo_due, 0))
        return;
    emit_after_fork();
    trace_after_fork();
    seg_after_fork(0);
    g_agent.observing = thread_reentered();
    hooks_remove_all();
    exec_children_end();
    pending_remove();
    unregister_atexit();
    if (!g_agent.observing) {
        commands_after_fork();
        if (commands_free_probes())
            ring_free(&g_agent.rb);
    }
    forget_session();
    atomic_store(&g_agent.stopping, 1);
    PyErr_Clear();
}

static int start_thread(void)
{
    sigset_t all, old;
    sigfillset(&all);
    /* Signals belong to the application's threads, not to ours. */
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&S.thread, NULL, agent_thread, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        errno = rc;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    S.joinable = 1;
    return 0;
}

static void wait_ready(int ms)
{
    Py_BEGIN_ALLOW_THREADS
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) { until.tv_sec++; until.tv_nsec -= 1000000000; }
    pthread_mutex_lock(&S.mu);
    while (!S.ready && !S.finished)
        if (pthread_cond_timedwait(&S.cv, &S.mu, &until) != 0)
            break;
    pthread_mutex_unlock(&S.mu);
    Py_END_ALLOW_THREADS
}

static void reap_previous(void)
{
    if (!S.joinable)
        return;
    Py_BEGIN_ALLOW_THREADS
    pthread_join(S.thread, NULL);
    Py_END_ALLOW_THREADS
    S.joinable = 0;
}

static int session_open(const session_opts *o)
{
    reap_previous();
    forget_session();
    atomic_store(&S.exiting, 0);
    if (peeka_fdec_init(&S.dec, PEEKA_FRAME_MAX) < 0 || ring_init(&g_agent.rb, o->buffer_bytes) < 0 ||
        !(S.sendbuf = malloc(S.sendcap = ring_max_record(&g_agent.rb)))) {
        ring_free(&g_agent.rb);
        PyErr_NoMemory();
        return -1;
    }
    if (emit_init() < 0 || watch_forks() < 0 || register_atexit() < 0)
        goto fail;
    int fd = connect_socket(o->socket_path);
    if (fd < 0)
        goto fail_atexit;
    adopt_socket(fd);
    widen_send_buffer(fd, g_agent.rb.size);
    snprintf(S.path, sizeof S.path, "%s", o->socket_path);
    snprintf(S.token, sizeof S.token, "%s", o->token);
    char *h = hello_json(o->token, 0, 0);
    int sent = h && peeka_frame_send(S.fd, PF_HELLO, h, strlen(h)) == PFE_OK;
    cJSON_free(h);
    if (!sent) {
        PyErr_SetString(PyExc_ConnectionError, "cannot send HELLO to peeka-rec");
        goto fail_fd;
    }
    g_agent.active = 1;
    if (start_thread() < 0) {
        g_agent.active = 0;
        goto fail_fd;
    }
    if (o->wait_ready_ms > 0)
        wait_ready(o->wait_ready_ms);
    return 0;
fail_fd:
    close_socket();
fail_atexit:
    unregister_atexit();
fail:
    ring_free(&g_agent.rb);
    return -1;
}

/* The PEP 768 route asks every thread to run the same bootstrap and more
 * than one may get to it: a run while the first is still opening the
 * session (which calls Python code, so threads can switch) or after it has
 * opened it is the same request again, not a second recorder, and does
 * nothing.  Both checks happen with the GIL held, before anything can
 * switch threads. */
int session_start(const session_opts *o)
{
    session_after_fork();   /* forked without os.fork(): what it would have done */
    if (opening || (g_agent.active && !strcmp(S.path, o->socket_path)))
        return 0;
    if (g_agent.active)
        return say_busy(o->socket_path, o->token);
    opening = 1;
    int rc = session_open(o);
    opening = 0;
    return rc;
}

/* peeka-rec --uninstall, GIL held: a session still open (its recorder
 * stopped answering and the lease has not run out yet, or it is recording
 * right now) ends as if the lease had expired, and the thread is joined.
 * 1 when there was one. */
int session_end_now(void)
{
    session_after_fork();
    if (!g_agent.active || !S.joinable) {
        reap_previous();   /* a session that ended by itself: its thread is done */
        return 0;
    }
    atomic_store(&purge_due, 1);
    reap_previous();
    atomic_store(&purge_due, 0);
    return 1;
}
