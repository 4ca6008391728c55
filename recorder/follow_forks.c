#include "follow_forks.h"
#include "exitcodes.h"
#include "installed_agent.h"
#include "proc_maps.h"
#include "recording.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
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
    if (f && (!(f->v = calloc(MAX_FOLLOWED, sizeof *f->v)) ||
              !(f->skipped = calloc(MAX_FOLLOWED, sizeof *f->skipped)))) {
        free(f->v);
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
    free(f->skipped);
    free(f);
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

/* c (HELLO and WELCOME done) is one of ours from now on, in the next free
 * slot, which owns it. */
static void listed(forks_state *f, const agent_conn *c, pid_t parent)
{
    followed_proc *p = &f->v[f->n++];
    memset(p, 0, sizeof *p);
    p->c = *c;
    p->parent = parent;
    p->start_ns = clock_of(CLOCK_REALTIME);
    p->next_ping = clock_of(CLOCK_MONOTONIC) + 1000000000LL;
    p->open = 1;
}

/* A connection whose HELLO was good: a child a process we record forked,
 * which goes on with the probes it inherited. */
static void take_hello(recording *r, agent_conn *c)
{
    forks_state *f = r->forks;
    char why[300];
    /* judged while the child waits for WELCOME: it cannot have exited yet */
    pid_t parent = pk_parent_of(c->pid);
    if (f->n < MAX_FOLLOWED && parent && ours(r, parent) &&
        conn_welcome(c, 5000, why, sizeof why) == EX_OK_REC) {
        listed(f, c, parent);
        return;
    }
    f->refused++;
    conn_close(c);
}

/* One new connection, from a child of a process we record with the token. */
static void take_child(recording *r, int fd)
{
    agent_conn c;
    char why[300];
    if (conn_hello(&c, r->forks->rd, fd, why, sizeof why) == EX_OK_REC) {
        take_hello(r, &c);
        return;
    }
    r->forks->refused++;
    conn_close(&c);
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
        if ((type == PF_RECORDS || type == PF_SEGMENTS) &&
            recording_take_wire(r, &p->c, type, body, len, err, errlen) < 0) {
            if (r->fail == EX_WRITE)
                return -1;
            ended(p);   /* a child that broke the protocol is dropped, the recording goes on */
            r->fail = 0;
        }
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

/* Each child adopted gets at most this long to connect: the processes
 * already recorded are not pinged meanwhile, and their agents give up
 * after a 5 s lease without a word.  One found by the scan is mostly still
 * starting: CPython initialises in tens of milliseconds (the attach waits
 * for it), and the recording stalls at most this long, once, for one that
 * never gets there. */
#define ADOPT_TIMEOUT_S 2.0
/* The scan walks /proc once per this period. */
#define SCAN_EVERY_NS 100000000LL

/* A ping to every connection already open, between two adoptions. */
static void keep_alive(recording *r)
{
    conn_send_request(r->conn, "\"cmd\":\"ping\"", NULL);
    for (int i = 0; i < r->forks->n; i++)
        if (r->forks->v[i].open)
            conn_send_request(&r->forks->v[i].c, "\"cmd\":\"ping\"", NULL);
}

/* The connection of a process recorded now, or NULL. */
static agent_conn *open_conn(recording *r, pid_t pid)
{
    if (pid == r->conn->pid)
        return r->conn;
    for (int i = 0; i < r->forks->n; i++)
        if (r->forks->v[i].open && r->forks->v[i].c.pid == pid)
            return &r->forks->v[i].c;
    return NULL;
}

/* The adopted process's connection within timeout_ms; a forked child's
 * that comes first is taken as accept_new would take it. */
static int accept_adopted(recording *r, agent_conn *c, pid_t pid, int timeout_ms, char *why,
                          size_t n)
{
    int64_t end = clock_of(CLOCK_MONOTONIC) + (int64_t)timeout_ms * 1000000;
    for (;;) {
        int64_t left = (end - clock_of(CLOCK_MONOTONIC)) / 1000000;
        int rc = conn_accept_hello(c, r->forks->rd, 0, left > 1 ? (int)left : 1, why, n);
        if (rc != EX_OK_REC)
            return rc;
        if (c->pid == pid)
            return conn_welcome(c, 5000, why, n);
        take_hello(r, c);
    }
}

/* A parent that started pid through multiprocessing waits until it is
 * recorded or given up (agent/exec_children.c): it may go on. */
static void release_parent(recording *r, pid_t parent, pid_t pid)
{
    agent_conn *c = open_conn(r, parent);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "\"cmd\":\"child_recorded\",\"pid\":%d", (int)pid);
    if (c)
        conn_send_request(c, cmd, NULL);
}

/* attach_any on a process that has just exec'd: until the dynamic loader
 * has mapped libpython and libc it does not look like CPython yet
 * (EX_NOTPYTHON), so that is tried again, within the same deadline. */
static int attach_starting(pid_t pid, rec_options *o, rundir *rd, attach_info *ai, char *why,
                           size_t n)
{
    int64_t end = clock_of(CLOCK_MONOTONIC) + (int64_t)(o->attach_timeout_s * 1e9);
    double budget = o->attach_timeout_s;
    for (;;) {
        int rc = attach_any(pid, o, rd, ai, why, n);
        int64_t left = end - clock_of(CLOCK_MONOTONIC);
        if (rc != EX_NOTPYTHON || left < 20000000LL) {
            o->attach_timeout_s = budget;
            return rc;
        }
        struct timespec ts = {0, 10000000};   /* 10 ms */
        nanosleep(&ts, NULL);
        o->attach_timeout_s = (double)(left - 10000000LL) / 1e9;
    }
}

/* A process that runs no agent of this recording (forked before it, or
 * exec'd Python during it: `starting`): attached like the target (the
 * installed route or an injection), then given the probes.  Not recorded:
 * remembered, so that the scan does not try it again. */
static void adopt(recording *r, pid_t pid, pid_t parent, int starting)
{
    forks_state *f = r->forks;
    agent_conn c = {.fd = -1};
    attach_info ai = {0};
    char why[1024] = "";
    rec_options quick = *r->opt;   /* a shallow copy: only read */
    if (quick.attach_timeout_s > ADOPT_TIMEOUT_S)
        quick.attach_timeout_s = ADOPT_TIMEOUT_S;
    /* 3.14+ run a PEP 768 script at their first eval-breaker check even
     * while the import system is still booting, where it fails (printing
     * to the child's stderr); ptrace waits for Py_IsInitialized. */
    if (starting && !strcmp(quick.via, "auto"))
        quick.via = "ptrace";
    keep_alive(r);
    int rc = starting ? attach_starting(pid, &quick, f->rd, &ai, why, sizeof why)
                      : attach_any(pid, &quick, f->rd, &ai, why, sizeof why);
    if (rc == EX_OK_REC)
        rc = accept_adopted(r, &c, pid, (int)(quick.attach_timeout_s * 1000), why, sizeof why);
    installed_withdraw(rc, why, sizeof why);
    keep_alive(r);
    if (rc == EX_OK_REC)
        rc = recording_install_on(r, &c, why, sizeof why);
    if (rc == EX_OK_REC && f->n < MAX_FOLLOWED)
        listed(f, &c, parent);
    else {
        /* one that exited meanwhile (a short-lived child) is no news */
        if (!r->opt->quiet && rc != EX_NOPROC && rc != EX_EXITED && kill(pid, 0) == 0)
            fprintf(stderr, "peeka-rec: --follow-forks: child %d of %d not recorded: %s\n",
                    (int)pid, (int)parent, rc == EX_OK_REC ? "too many processes" : why);
        conn_close(&c);
        f->refused++;
        if (f->nskipped < MAX_FOLLOWED)
            f->skipped[f->nskipped++] = pid;
    }
    release_parent(r, parent, pid);
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
                adopt(r, kids[i], parent, 0);
    }
}

static int was_skipped(const forks_state *f, pid_t pid)
{
    for (int i = 0; i < f->nskipped; i++)
        if (f->skipped[i] == pid)
            return 1;
    return 0;
}

/* Children that exec'd the same Python while their parent is recorded (a
 * multiprocessing forkserver or spawn child, a subprocess of
 * sys.executable) run no agent: they are adopted.  One that maps an agent
 * is a forked child, which connects by itself (or already did): never
 * attached twice. */
static void scan(recording *r)
{
    forks_state *f = r->forks;
    pid_t parents[MAX_FOLLOWED + 1], kids[64], kid_parent[64];
    size_t np = 0;
    parents[np++] = r->conn->pid;
    for (int i = 0; i < f->n; i++)
        if (f->v[i].open)
            parents[np++] = f->v[i].c.pid;
    int n = pk_same_exe_children_of(parents, np, kids, kid_parent, 64);
    for (int i = 0; i < n && i < 64 && f->n < MAX_FOLLOWED && f->nskipped < MAX_FOLLOWED; i++)
        if (!open_conn(r, kids[i]) && !was_skipped(f, kids[i]) && pk_agent_mapped(kids[i]) == 0)
            adopt(r, kids[i], kid_parent[i], 1);
}

int forks_poll(recording *r, char *err, size_t errlen)
{
    accept_new(r);
    int64_t now = clock_of(CLOCK_MONOTONIC);
    if (now >= r->forks->next_scan) {
        scan(r);
        r->forks->next_scan = clock_of(CLOCK_MONOTONIC) + SCAN_EVERY_NS;
    }
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
