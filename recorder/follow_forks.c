#include "follow_forks.h"
#include "exitcodes.h"
#include "installed_agent.h"
#include "proc_maps.h"
#include "recording.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Frames taken from one child per poll: the parent's connection must not
 * starve behind a busy child. */
#define FRAMES_PER_POLL 16

static int64_t clock_of(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

forks_state *forks_new(rundir *rd)
{
    forks_state *f = calloc(1, sizeof *f);
    if (f && !(f->v = calloc(MAX_FOLLOWED, sizeof *f->v))) {
        free(f);
        return NULL;
    }
    if (f)
        f->rd = rd;
    return f;
}

void forks_free(forks_state *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->n; i++)
        conn_close(&f->v[i].c);
    free(f->v);
    free(f);
}

/* Field 4 of /proc/PID/stat; 0 when unknown. */
static pid_t parent_of(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    const char *rp = strrchr(buf, ')');
    int ppid = 0;
    char state;
    return rp && sscanf(rp + 1, " %c %d", &state, &ppid) == 2 ? (pid_t)ppid : 0;
}

/* The recorded process itself, or one followed already. */
static int ours(const recording *r, pid_t pid)
{
    if (pid == r->conn->pid)
        return 1;
    for (int i = 0; i < r->forks->n; i++)
        if (r->forks->v[i].c.pid == pid)
            return 1;
    return 0;
}

/* The connection in the next free slot is one of ours from now on. */
static void listed(forks_state *f, pid_t parent)
{
    followed_proc *p = &f->v[f->n++];
    p->parent = parent;
    p->start_ns = clock_of(CLOCK_REALTIME);
    p->next_ping = clock_of(CLOCK_MONOTONIC) + 1000000000LL;
    p->open = 1;
}

/* One new connection: a child of a process we record, with the token. */
static void take_child(recording *r, int fd)
{
    forks_state *f = r->forks;
    char why[300];
    if (f->n == MAX_FOLLOWED) {
        f->refused++;
        close(fd);
        return;
    }
    followed_proc *p = &f->v[f->n];
    memset(p, 0, sizeof *p);
    /* judged while the child waits for WELCOME: it cannot have exited yet */
    int rc = conn_hello(&p->c, f->rd, fd, why, sizeof why);
    pid_t parent = rc == EX_OK_REC ? parent_of(p->c.pid) : 0;
    if (rc == EX_OK_REC && parent && ours(r, parent))
        rc = conn_welcome(&p->c, 5000, why, sizeof why);
    if (rc != EX_OK_REC || !parent || !ours(r, parent)) {
        f->refused++;
        conn_close(&p->c);
        return;
    }
    listed(f, parent);
}

static void accept_new(recording *r)
{
    for (;;) {
        int fd = accept4(r->forks->rd->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            return;   /* EAGAIN: none waiting (the socket is non-blocking) */
        take_child(r, fd);
    }
}

static void ended(followed_proc *p)
{
    p->open = 0;
    p->end_ns = clock_of(CLOCK_REALTIME);
    conn_close(&p->c);
}

/* What one child sent; -1 when the archive failed. */
static int drain_child(recording *r, followed_proc *p, int timeout_ms, int frames, char *err,
                       size_t errlen)
{
    for (int k = 0; p->open && k < frames; k++) {
        uint8_t type;
        const uint8_t *body;
        uint32_t len;
        int rc = conn_next(&p->c, timeout_ms, &type, &body, &len);
        if (rc == 0)
            return 0;
        if (rc < 0) {
            ended(p);   /* exited, exec'd, or detached */
            return 0;
        }
        /* REPLY (to pings, to detach) and EVENT carry nothing the archive keeps */
        if (type == PF_RECORDS && recording_take_records(r, body, len, err, errlen) < 0) {
            if (r->fail == EX_WRITE)
                return -1;
            ended(p);   /* a child that broke the protocol is dropped, the recording goes on */
            r->fail = 0;
        }
    }
    return 0;
}

int forks_poll(recording *r, char *err, size_t errlen)
{
    accept_new(r);
    int64_t now = clock_of(CLOCK_MONOTONIC);
    for (int i = 0; i < r->forks->n; i++) {
        followed_proc *p = &r->forks->v[i];
        if (p->open && now >= p->next_ping) {
            conn_send_request(&p->c, "\"cmd\":\"ping\"", NULL);
            p->next_ping = now + 1000000000LL;
        }
        if (drain_child(r, p, 0, FRAMES_PER_POLL, err, errlen) < 0)
            return -1;
    }
    return 0;
}

void forks_finish(recording *r, char *err, size_t errlen)
{
    accept_new(r);   /* forked just before the end */
    for (int i = 0; i < r->forks->n; i++)
        if (r->forks->v[i].open)
            conn_send_request(&r->forks->v[i].c, "\"cmd\":\"detach\"", NULL);
    int64_t end = clock_of(CLOCK_MONOTONIC) + 10000000000LL;
    for (int i = 0; i < r->forks->n; i++) {
        followed_proc *p = &r->forks->v[i];
        while (p->open && clock_of(CLOCK_MONOTONIC) < end)
            if (drain_child(r, p, 100, 1, err, errlen) < 0)
                return;
        if (p->open)
            ended(p);
    }
}

/* Each child found at the start gets at most this long to connect: the
 * processes already recorded are not pinged meanwhile, and their agents
 * give up after a 5 s lease without a word. */
#define ADOPT_TIMEOUT_S 2.0

/* A ping to every connection already open, between two adoptions. */
static void keep_alive(recording *r)
{
    conn_send_request(r->conn, "\"cmd\":\"ping\"", NULL);
    for (int i = 0; i < r->forks->n; i++)
        if (r->forks->v[i].open)
            conn_send_request(&r->forks->v[i].c, "\"cmd\":\"ping\"", NULL);
}

/* One process forked before the recording: attached like the target (the
 * installed route or an injection), then given the probes. */
static void adopt(recording *r, pid_t pid, pid_t parent)
{
    forks_state *f = r->forks;
    followed_proc *p = &f->v[f->n];
    memset(p, 0, sizeof *p);
    p->c.fd = -1;
    attach_info ai = {0};
    char why[1024] = "";
    rec_options quick = *r->opt;   /* a shallow copy: only read */
    if (quick.attach_timeout_s > ADOPT_TIMEOUT_S)
        quick.attach_timeout_s = ADOPT_TIMEOUT_S;
    keep_alive(r);
    int rc = attach_any(pid, &quick, f->rd, &ai, why, sizeof why);
    if (rc == EX_OK_REC)
        rc = conn_accept(&p->c, f->rd, pid, 0, (int)(quick.attach_timeout_s * 1000), 5000, why, sizeof why);
    installed_withdraw(rc, why, sizeof why);
    keep_alive(r);
    if (rc == EX_OK_REC)
        rc = recording_install_on(r, &p->c, why, sizeof why);
    if (rc != EX_OK_REC) {
        if (!r->opt->quiet)
            fprintf(stderr, "peeka-rec: --follow-forks: child %d of %d not recorded: %s\n", (int)pid,
                    (int)parent, why);
        conn_close(&p->c);
        f->refused++;
        return;
    }
    listed(f, parent);
}

void forks_adopt_existing(recording *r)
{
    /* breadth first: each adopted process's own children after it */
    for (int at = -1; at < r->forks->n && r->forks->n < MAX_FOLLOWED; at++) {
        pid_t parent = at < 0 ? r->conn->pid : r->forks->v[at].c.pid;
        pid_t kids[64];
        int n = pk_same_exe_children(parent, kids, 64);
        for (int i = 0; i < n && i < 64 && r->forks->n < MAX_FOLLOWED; i++)
            if (!ours(r, kids[i]))
                adopt(r, kids[i], parent);
    }
}

static void add_time(cJSON *o, const char *key, int64_t ns)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)ns);
    if (ns)
        cJSON_AddRawToObject(o, key, buf);
    else
        cJSON_AddNullToObject(o, key);
}

cJSON *forks_json(const recording *r)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; r->forks && i < r->forks->n; i++) {
        const followed_proc *p = &r->forks->v[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "pid", p->c.pid);
        cJSON_AddNumberToObject(o, "parent", p->parent);
        add_time(o, "start_ns", p->start_ns);
        add_time(o, "end_ns", p->end_ns);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}
