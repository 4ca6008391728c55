#include "session_holder.h"
#include "exitcodes.h"
#include "recording.h"
#include "session_dir.h"
#include "session_proto.h"
#include "signals.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HOLDER_CLIENTS 8
#define TICK_NS        20000000LL    /* clients are looked at this often */
#define PROGRESS_NS    250000000LL   /* as often as a terminal's progress line */

typedef struct {
    int fd;              /* -1: free */
    int attached;        /* gets progress and the end */
    int stopper;         /* asked to stop: gets the end */
    char in[64];
    size_t inlen;
} client;

struct session_holder {
    sdir_paths p;
    int lockfd, listen_fd, ready_fd;
    client cl[HOLDER_CLIENTS];
    int stop_requested;
    int64_t next_tick, next_progress;
    char cwd[PATH_MAX];          /* a relative -o is relative to it */
    char started[40];
};

static int bind_control(session_holder *h, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(h->p.sock) >= sizeof sa.sun_path) {
        snprintf(err, errlen, "session socket path too long: %s (a shorter $XDG_RUNTIME_DIR?)",
                 h->p.sock);
        return -1;
    }
    strcpy(sa.sun_path, h->p.sock);
    h->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    mode_t old = umask(077);
    int rc = h->listen_fd < 0 || bind(h->listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
             listen(h->listen_fd, HOLDER_CLIENTS) < 0 ? -1 : 0;
    umask(old);
    if (rc < 0)
        snprintf(err, errlen, "cannot listen on %s: %s", h->p.sock, strerror(errno));
    return rc;
}

static void describe(session_holder *h)
{
    if (!getcwd(h->cwd, sizeof h->cwd))
        h->cwd[0] = 0;
    time_t now = time(NULL);
    struct tm tm;
    if (!gmtime_r(&now, &tm) || !strftime(h->started, sizeof h->started, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(h->started, sizeof h->started, "?");
}

/* The archive's final name, absolute (launch mode knows it only once the
 * program's pid is). */
static void output_path(const session_holder *h, const recording *r, char *out, size_t n)
{
    const char *partial = r->aw ? peeka_aw_partial_path(r->aw) : "";
    int len = (int)(strlen(partial) - (r->aw ? sizeof ".partial" - 1 : 0));
    if (partial[0] == '/' || !h->cwd[0])
        snprintf(out, n, "%.*s", len, partial);
    else
        snprintf(out, n, "%s/%.*s", h->cwd, len, partial);
}

static void holder_free(session_holder *h)
{
    for (int i = 0; i < HOLDER_CLIENTS; i++)
        if (h->cl[i].fd >= 0)
            close(h->cl[i].fd);
    if (h->listen_fd >= 0)
        close(h->listen_fd);
    if (h->ready_fd >= 0)
        close(h->ready_fd);
    sdir_release(&h->p, h->lockfd);
    free(h);
}

/* The command the user ran: waits for the holder's word.  Ctrl-C meanwhile
 * ends the holder's start as it would end a recording. */
static int wait_ready(pid_t holder, int fd)
{
    char c = 0;
    ssize_t n;
    int sent = 0;
    while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
        if (g_stop_signal && !sent++)
            kill(holder, SIGTERM);
    close(fd);
    if (n == 1 && c == 'r')
        return EX_OK_REC;
    int st;
    while (waitpid(holder, &st, 0) < 0)
        if (errno != EINTR)
            return EX_INTERNAL;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int holder_start(const rec_options *o, session_holder **out, int *code,
                 char *err, size_t errlen)
{
    session_holder *h = calloc(1, sizeof *h);
    *code = EX_INTERNAL;
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    h->lockfd = h->listen_fd = h->ready_fd = -1;
    for (int i = 0; i < HOLDER_CLIENTS; i++)
        h->cl[i].fd = -1;
    describe(h);
    int fds[2] = {-1, -1};
    int dir = sdir_open(&h->p, o->detach_key, 1, err, errlen);
    if (dir < 0 || (h->lockfd = sdir_claim(&h->p, err, errlen)) == -1) {
        free(h);
        *code = dir == -2 ? EX_SESSION_REFUSED : EX_INTERNAL;
        return -1;
    }
    if (h->lockfd == -2) {
        snprintf(err, errlen, "a detached session '%s' is already running (peeka-rec "
                 "--attach=%s, or --list-sessions)", o->detach_key, o->detach_key);
        free(h);
        *code = EX_SESSION_EXISTS;
        return -1;
    }
    if (bind_control(h, err, errlen) < 0) {
        holder_free(h);
        return -1;
    }
    if (pipe2(fds, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        holder_free(h);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        holder_free(h);
        return -1;
    }
    if (pid > 0) {   /* the lock and the socket are the holder's now */
        close(fds[1]);
        close(h->listen_fd);
        close(h->lockfd);
        free(h);
        *code = wait_ready(pid, fds[0]);
        return 1;
    }
    close(fds[0]);
    h->ready_fd = fds[1];
    if (setsid() < 0) {   /* cannot fail in a fresh child; said if it does */
        snprintf(err, errlen, "setsid: %s", strerror(errno));
        holder_free(h);
        return -1;
    }
    signals_keep_hup();
    *out = h;
    return 0;
}

void holder_ready(session_holder *h)
{
    if (!h || h->ready_fd < 0)
        return;
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {   /* errors after this point go to attached clients and the summary */
        fflush(stdout);
        fflush(stderr);
        for (int fd = 0; fd <= 2; fd++)
            if (fd != null)
                dup2(null, fd);
        if (null > 2)
            close(null);
    }
    if (write(h->ready_fd, "r", 1) != 1) {
        /* the command that waited is gone: the session runs anyway */
    }
    close(h->ready_fd);
    h->ready_fd = -1;
}

static void drop(client *c)
{
    close(c->fd);
    c->fd = -1;
    c->attached = c->stopper = 0;
    c->inlen = 0;
}

/* 0 sent; 1 not sent, the client's buffer being full (progress may be
 * lost that way; the end waits up to a second for room); -1 the client
 * is gone or holds half a line: drop it. */
static int say(client *c, const char *line, int must)
{
    size_t n = strlen(line), off = 0;
    while (off < n) {
        ssize_t w = send(c->fd, line + off, n - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            off += (size_t)w;
        } else if (w < 0 && errno == EAGAIN) {
            struct pollfd p = {c->fd, POLLOUT, 0};
            if (!must || poll(&p, 1, 1000) != 1)
                return off ? -1 : 1;
        } else if (!(w < 0 && errno == EINTR)) {
            return -1;
        }
    }
    return 0;
}

static char *info_json(const session_holder *h, const recording *r)
{
    const rec_options *o = r->opt;
    cJSON *j = cJSON_CreateObject(), *probes = cJSON_CreateArray();
    cJSON_AddStringToObject(j, "key", h->p.key);
    cJSON_AddNumberToObject(j, "pid", getpid());
    cJSON_AddNumberToObject(j, "target_pid", r->child > 0 ? r->child : o->pid);
    cJSON_AddStringToObject(j, "mode", r->mode);
    char target[512] = "";
    size_t k = 0;
    for (char **a = o->cmd; a && *a && k < sizeof target; a++)
        k += (size_t)snprintf(target + k, sizeof target - k, "%s%s", k ? " " : "", *a);
    if (!o->cmd)
        snprintf(target, sizeof target, "pid %d", (int)o->pid);
    cJSON_AddStringToObject(j, "target", target);
    cJSON_AddStringToObject(j, "started", h->started);
    for (int i = 0; i < o->nprobes; i++)
        cJSON_AddItemToArray(probes, cJSON_CreateString(o->probes[i].spec));
    cJSON_AddItemToObject(j, "probes", probes);
    cJSON_AddNumberToObject(j, "records", (double)r->records);
    int attached = 0;
    for (int i = 0; i < HOLDER_CLIENTS; i++)
        attached += h->cl[i].fd >= 0 && h->cl[i].attached;
    cJSON_AddNumberToObject(j, "attached", attached);
    char path[PATH_MAX + 8];
    output_path(h, r, path, sizeof path);
    cJSON_AddStringToObject(j, "output", path);
    cJSON_AddStringToObject(j, "policy", o->ring_bytes ? "ring" : "stream");
    if (o->duration_s > 0)
        cJSON_AddNumberToObject(j, "duration_s", o->duration_s);
    else
        cJSON_AddNullToObject(j, "duration_s");
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

/* Only the session's own uid may use it (the directory is private; this
 * holds even if someone made the socket reachable). */
static int peer_allowed(client *c)
{
    struct ucred cred;
    socklen_t cl = sizeof cred;
    if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0 && cred.uid == geteuid())
        return 1;
    char line[160];
    snprintf(line, sizeof line, SP_REFUSED " uid %u may not use a session of uid %u\n",
             cl == sizeof cred ? (unsigned)cred.uid : 0u, (unsigned)geteuid());
    say(c, line, 0);
    drop(c);
    return 0;
}

static void accept_clients(session_holder *h)
{
    for (;;) {
        int fd = accept4(h->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            return;   /* EAGAIN: none waiting; anything else: try at the next tick */
        client *c = NULL;
        for (int i = 0; i < HOLDER_CLIENTS && !c; i++)
            if (h->cl[i].fd < 0)
                c = &h->cl[i];
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        peer_allowed(c);
    }
}

static void request(session_holder *h, client *c, const char *word, const recording *r, int64_t now)
{
    if (!strcmp(word, SP_INFO)) {
        char *info = info_json(h, r);
        size_t n = info ? strlen(info) + 16 : 0;
        char *line = n ? malloc(n) : NULL;
        if (line) {
            snprintf(line, n, SP_INFO " %s\n", info);
            say(c, line, 1);
        }
        free(line);
        free(info);
        drop(c);
    } else if (!strcmp(word, SP_ATTACH)) {
        c->attached = 1;
        h->next_progress = now;
    } else if (!strcmp(word, SP_STOP)) {
        c->stopper = 1;
        h->stop_requested = 1;
    } else {
        say(c, "error unknown request\n", 0);
        drop(c);
    }
}

static void read_client(session_holder *h, client *c, const recording *r, int64_t now)
{
    ssize_t n = recv(c->fd, c->in + c->inlen, sizeof c->in - 1 - c->inlen, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        drop(c);   /* a client that goes away stops nothing */
        return;
    }
    if (n < 0)
        return;
    c->inlen += (size_t)n;
    c->in[c->inlen] = 0;
    char *nl;
    while (c->fd >= 0 && (nl = strchr(c->in, '\n'))) {
        char word[sizeof c->in];
        size_t used = (size_t)(nl + 1 - c->in);
        memcpy(word, c->in, used - 1);
        word[used - 1] = 0;
        memmove(c->in, nl + 1, c->inlen - used + 1);
        c->inlen -= used;
        request(h, c, word, r, now);   /* may drop c */
    }
    if (c->fd >= 0 && c->inlen == sizeof c->in - 1)
        drop(c);   /* no request is that long */
}

static void send_progress(session_holder *h, const recording *r, int64_t now)
{
    if (now < h->next_progress)
        return;
    h->next_progress = now + PROGRESS_NS;
    char text[200], line[220];
    recording_progress(r, now, text, sizeof text);
    snprintf(line, sizeof line, SP_PROGRESS " %s\n", text);
    for (int i = 0; i < HOLDER_CLIENTS; i++)
        if (h->cl[i].fd >= 0 && h->cl[i].attached && say(&h->cl[i], line, 0) < 0)
            drop(&h->cl[i]);
}

int holder_tick(session_holder *h, const recording *r, int64_t now)
{
    if (!h || now < h->next_tick)
        return h ? h->stop_requested : 0;
    h->next_tick = now + TICK_NS;
    accept_clients(h);
    for (int i = 0; i < HOLDER_CLIENTS; i++)
        if (h->cl[i].fd >= 0)
            read_client(h, &h->cl[i], r, now);
    send_progress(h, r, now);
    return h->stop_requested;
}

void holder_finish(session_holder *h, int code, const char *msg)
{
    if (!h)
        return;
    if (h->ready_fd >= 0) {   /* it never started: the waiting command takes our exit code */
        close(h->ready_fd);
        h->ready_fd = -1;
    }
    /* gone before anyone hears of the end: a client told it ended finds no session */
    sdir_release(&h->p, h->lockfd);
    h->lockfd = -1;
    char line[SP_LINE_MAX];
    snprintf(line, sizeof line, SP_END " %d %.1000s\n", code, msg ? msg : "");
    accept_clients(h);   /* who came while the archive was written learns it ended */
    for (int i = 0; i < HOLDER_CLIENTS; i++) {
        if (h->cl[i].fd < 0)
            continue;
        say(&h->cl[i], line, 1);
        drop(&h->cl[i]);
    }
    holder_free(h);
}
