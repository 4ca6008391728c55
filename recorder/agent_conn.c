#include "agent_conn.h"
#include "exitcodes.h"

#include <cJSON.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Without reaping it (wait4 refuses WNOWAIT: waitid). */
static int child_gone(pid_t child)
{
    siginfo_t si;
    si.si_pid = 0;
    return child > 0 && waitid(P_PID, (id_t)child, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           si.si_pid == child;
}

/* Launch mode: the bootstrap wrote why it could not start the agent (in
 * one write, when its file closes: an empty file is not done yet). */
static int boot_failed(const rundir *r, pid_t child)
{
    char path[400];
    struct stat st;
    snprintf(path, sizeof path, "%s/boot-error", r->dir);
    return child > 0 && stat(path, &st) == 0 && st.st_size > 0;
}

static int accept_one(rundir *r, pid_t child, int timeout_ms, char *err, size_t errlen)
{
    int64_t end = mono_ms() + timeout_ms;
    for (;;) {
        struct pollfd p = {r->listen_fd, POLLIN, 0};
        int pr = poll(&p, 1, 50);
        if (pr < 0 && errno != EINTR) {
            snprintf(err, errlen, "poll: %s", strerror(errno));
            return -EX_INTERNAL;
        }
        if (pr > 0) {
            int fd = accept4(r->listen_fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0)
                return fd;
            if (errno != EAGAIN && errno != EINTR) {
                snprintf(err, errlen, "accept: %s", strerror(errno));
                return -EX_INTERNAL;
            }
        }
        if (boot_failed(r, child)) {
            snprintf(err, errlen, "the bootstrap could not start the agent");
            return -EX_ATTACH;
        }
        if (child_gone(child)) {
            snprintf(err, errlen, "the program exited before the agent connected");
            return -EX_EXITED;
        }
        if (mono_ms() > end) {
            snprintf(err, errlen, "the agent did not connect within %d ms", timeout_ms);
            return -EX_TIMEOUT;
        }
    }
}

int conn_next(agent_conn *c, int timeout_ms, uint8_t *type, const uint8_t **body, uint32_t *len)
{
    int rc = peeka_fdec_next(&c->dec, type, body, len);
    if (rc != 0)
        return rc;
    struct pollfd p = {c->fd, POLLIN, 0};
    int pr = poll(&p, 1, timeout_ms);
    if (pr < 0)
        return errno == EINTR ? 0 : PFE_IO;
    if (pr == 0)
        return 0;
    size_t room;
    uint8_t *sp = peeka_fdec_space(&c->dec, &room);
    ssize_t n = recv(c->fd, sp, room, 0);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : PFE_IO;
    if (n == 0)
        return c->dec.len ? PFE_TRUNC : PFE_EOF;
    peeka_fdec_commit(&c->dec, (size_t)n);
    return peeka_fdec_next(&c->dec, type, body, len);
}

static int check_hello(agent_conn *c, rundir *r, const uint8_t *body, uint32_t len,
                       char *err, size_t errlen)
{
    cJSON *h = cJSON_ParseWithLength((const char *)body, len);
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(h, "token");
    const cJSON *proto = cJSON_GetObjectItemCaseSensitive(h, "proto");
    const cJSON *py = cJSON_GetObjectItemCaseSensitive(h, "python");
    int rc = 0;
    if (!cJSON_IsString(tok) || !token_equal(tok->valuestring, r->token)) {
        snprintf(err, errlen, "a process presented a wrong token on the agent socket");
        rc = EX_ATTACH;
    } else if (!cJSON_IsNumber(proto) || proto->valueint != PEEKA_PROTO_VERSION) {
        snprintf(err, errlen, "agent speaks protocol %d, peeka-rec speaks %d: reinstall peeka",
                 cJSON_IsNumber(proto) ? proto->valueint : -1, PEEKA_PROTO_VERSION);
        rc = EX_ATTACH;
    } else if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h, "busy"))) {
        snprintf(err, errlen, "process %d is already being recorded by another peeka-rec", (int)c->pid);
        rc = EX_BUSY;
    }
    if (cJSON_IsString(py))
        snprintf(c->python, sizeof c->python, "%s", py->valuestring);
    cJSON_Delete(h);
    return rc;
}

/* --follow-forks: WELCOME says so (session.c follows forked children). */
static int welcome_follow;

void conn_welcome_follow_forks(int on)
{
    welcome_follow = on;
}

int conn_hello(agent_conn *c, rundir *r, int fd, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->fd = fd;
    if (peeka_fdec_init(&c->dec, PEEKA_FRAME_MAX) < 0) {
        snprintf(err, errlen, "out of memory");
        return EX_INTERNAL;
    }
    struct ucred cred;
    socklen_t cl = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
        snprintf(err, errlen, "SO_PEERCRED: %s", strerror(errno));
        return EX_INTERNAL;
    }
    c->pid = cred.pid;
    uint8_t type;
    const uint8_t *body;
    uint32_t len;
    int rc;
    int64_t end = mono_ms() + 5000;
    while ((rc = conn_next(c, 100, &type, &body, &len)) == 0 && mono_ms() < end)
        ;
    if (rc != 1 || type != PF_HELLO) {
        snprintf(err, errlen, "the agent did not say hello (%s)", rc < 0 ? peeka_frame_strerror(rc) : "timeout");
        return EX_ATTACH;
    }
    return check_hello(c, r, body, len, err, errlen);
}

int conn_wants_segments(void)
{
    const char *w = getenv("PEEKA_WIRE");
    return !(w && !strcmp(w, "literal"));
}

int conn_welcome(agent_conn *c, int lease_ms, char *err, size_t errlen)
{
    char welcome[160];
    if (conn_wants_segments() && !c->segs && !(c->segs = calloc(1, sizeof *c->segs))) {
        snprintf(err, errlen, "out of memory");
        return EX_INTERNAL;
    }
    snprintf(welcome, sizeof welcome, "{\"proto\":%d,\"lease_ms\":%d%s%s}", PEEKA_PROTO_VERSION,
             lease_ms, welcome_follow ? ",\"follow_forks\":true" : "",
             c->segs ? ",\"segments\":true" : "");
    if (peeka_frame_send(c->fd, PF_WELCOME, welcome, strlen(welcome)) != PFE_OK) {
        snprintf(err, errlen, "cannot send WELCOME: %s", strerror(errno));
        return EX_ATTACH;
    }
    return EX_OK_REC;
}

int conn_accept_hello(agent_conn *c, rundir *r, pid_t child, int timeout_ms, char *err,
                      size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    int fd = accept_one(r, child, timeout_ms, err, errlen);
    return fd < 0 ? -fd : conn_hello(c, r, fd, err, errlen);
}

int conn_accept(agent_conn *c, rundir *r, pid_t expect_pid, pid_t child, int timeout_ms,
                int lease_ms, char *err, size_t errlen)
{
    int rc = conn_accept_hello(c, r, child, timeout_ms, err, errlen);
    if (rc == EX_OK_REC && c->pid != expect_pid) {
        snprintf(err, errlen, "process %d connected to the agent socket, expected %d",
                 (int)c->pid, (int)expect_pid);
        return EX_ATTACH;
    }
    return rc == EX_OK_REC ? conn_welcome(c, lease_ms, err, errlen) : rc;
}

/* cmd_json is an object's members without braces, e.g. "\"cmd\":\"ping\"". */
int conn_send_request(agent_conn *c, const char *members, int *id_out)
{
    int id = ++c->next_id;
    size_t n = strlen(members) + 32;
    char *buf = malloc(n);
    if (!buf)
        return -1;
    int k = snprintf(buf, n, "{\"id\":%d,%s}", id, members);
    int rc = peeka_frame_send(c->fd, PF_REQUEST, buf, (size_t)k) == PFE_OK ? 0 : -1;
    free(buf);
    if (id_out)
        *id_out = id;
    return rc;
}

void conn_close(agent_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    peeka_fdec_free(&c->dec);
    if (c->segs)
        peeka_segs_free(c->segs);
    free(c->segs);
    c->segs = NULL;
}
