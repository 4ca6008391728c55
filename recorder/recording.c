#include "recording.h"
#include "buffer_policy.h"
#include "follow_forks.h"
#include "proc_maps.h"
#include "session_holder.h"
#include "exitcodes.h"
#include "probe_snapshot.h"

#include <cJSON.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t g_stop_signal;

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int64_t wall_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void iso_time(char *out, size_t n, int64_t ns)
{
    time_t s = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, n - k, ".%03dZ", (int)(ns / 1000000 % 1000));
}

/* The agent broke the protocol (a malformed or hostile message): say what
 * once, end the recording without trusting it further (docs/protocol.md
 * "What the recorder checks").  Returns -1 for the caller to pass up. */
static int violation(recording *r, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int violation(recording *r, char *err, size_t errlen, const char *fmt, ...)
{
    if (r->fail)
        return -1;
    r->fail = EX_PROTOCOL;
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(r->error, sizeof r->error, "the agent broke the protocol: %s", what);
    snprintf(err, errlen, "%s", r->error);
    return -1;
}

/* A decimal number of at most 18 digits at p (n bytes); -1 if there is none. */
static long long small_number(const char *p, size_t n)
{
    long long v = 0;
    size_t i = 0;
    for (; i < n && i < 18 && p[i] >= '0' && p[i] <= '9'; i++)
        v = v * 10 + (p[i] - '0');
    if (i == 0 || (i < n && p[i] >= '0' && p[i] <= '9'))
        return -1;
    return v;
}

/* Every record line starts with the agent's fixed prefix, so the probe id
 * is found without parsing the line; 0 when it is missing or not a probe
 * of this recording. */
static int probe_of(const recording *r, const char *line, size_t len)
{
    static const char head[] = "{\"type\":\"observation\",\"kind\":\"";
    const size_t hl = sizeof head - 1;
    size_t lim = len < 96 ? len : 96;
    const char *k = NULL;
    /* the agent's own prefix: the key right after the kind's closing quote
     * (memmem over every line was a tenth of peeka-rec's time) */
    if (lim > hl && !memcmp(line, head, hl)) {
        const char *q = memchr(line + hl, '"', lim - hl);
        if (q && (size_t)(line + lim - q) > 12 && !memcmp(q + 1, ",\"probe_id\":", 12))
            k = q + 2;
    }
    if (!k)
        k = memmem(line, lim, "\"probe_id\":", 11);
    if (!k)
        return 0;
    long long id = small_number(k + 11, (size_t)(line + len - (k + 11)));
    return id >= 1 && id <= r->opt->nprobes ? (int)id : 0;
}

/* monitor: the highest `cycle` seen per probe, for its -c (the agent puts
 * `cycle` right after `probe_id`). */
static long long cycles_seen[MAX_REC_PROBES + 1];

/* The line's `cycle`, or -1. */
static long long cycle_of(const char *line, size_t len)
{
    size_t lim = len < 128 ? len : 128;
    const char *k = memmem(line, lim, "\"cycle\":", 8);
    return k ? small_number(k + 8, (size_t)(line + len - (k + 8))) : -1;
}

void recording_count(recording *r, const uint8_t *data, size_t len)
{
    for (const uint8_t *p = data, *end = data + len; p < end;) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = (size_t)(nl - p);
        int id = probe_of(r, (const char *)p, l);
        r->per_probe[id]++;
        long long c = r->counts_cycles ? cycle_of((const char *)p, l) : -1;
        if (c > cycles_seen[id])
            cycles_seen[id] = c;
        r->records++;
        p = nl + 1;
    }
}

/* A RECORDS body is checked whole before any of it is kept: whole lines,
 * each ending in '\n', shaped {...}, no NUL, at most PEEKA_RECORD_MAX, with
 * the probe_id of a probe of this recording.  A bad batch is not written.
 * 0 ok; -1 with r->fail set (EX_PROTOCOL or EX_WRITE). */
static int take_records(recording *r, const uint8_t *data, uint32_t len, char *err, size_t errlen)
{
    if (len == 0)
        return 0;
    if (!r->session_written)
        return violation(r, err, errlen, "it sent records before any probe was installed");
    if (data[len - 1] != '\n')
        return violation(r, err, errlen, "a RECORDS frame of %u bytes does not end with a newline", len);
    if (memchr(data, 0, len))
        return violation(r, err, errlen, "a RECORDS frame holds a NUL byte");
    uint64_t lines = 0;
    long long got[MAX_REC_PROBES + 1] = {0}, cycles[MAX_REC_PROBES + 1];
    memcpy(cycles, cycles_seen, sizeof cycles);
    for (const uint8_t *p = data, *end = data + len; p < end;) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));   /* found: the last byte is one */
        size_t l = (size_t)(nl - p);
        lines++;
        if (l + 1 > PEEKA_RECORD_MAX)
            return violation(r, err, errlen, "record %llu of a batch is %zu bytes (the limit is %u)",
                             (unsigned long long)lines, l + 1, PEEKA_RECORD_MAX);
        if (l < 2 || p[0] != '{' || p[l - 1] != '}')
            return violation(r, err, errlen, "record %llu of a batch is not a JSON object line",
                             (unsigned long long)lines);
        int id = probe_of(r, (const char *)p, l);
        if (!id)
            return violation(r, err, errlen, "record %llu of a batch has no probe_id of this "
                             "recording (1..%d)", (unsigned long long)lines, r->opt->nprobes);
        got[id]++;
        if (r->counts_cycles) {   /* only monitor, thread and top records carry one */
            long long c = cycle_of((const char *)p, l);
            if (c > cycles[id])
                cycles[id] = c;
        }
        p = nl + 1;
    }
    /* the whole batch is good: now it counts */
    for (int id = 1; id <= r->opt->nprobes; id++)
        r->per_probe[id] += got[id];
    memcpy(cycles_seen, cycles, sizeof cycles);
    r->records += (long long)lines;
    if (r->ring)
        return policy_keep(r, data, len);
    if (!r->aw) {
        if (r->out_closed)
            return 0;
        if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
            if (errno == EPIPE) {   /* `| head`: the reader has what it wanted */
                r->out_closed = 1;
                return 0;
            }
            snprintf(err, errlen, "cannot write to stdout: %s", strerror(errno));
            r->fail = EX_WRITE;
            return -1;
        }
        return 0;
    }
    if (peeka_aw_append_records(r->aw, data, len) < 0) {
        snprintf(err, errlen, "%s", peeka_aw_error(r->aw));
        r->fail = EX_WRITE;
        return -1;
    }
    return 0;
}

/* The id of a probe in the agent's counts, 1..nprobes, or 0. */
static int stats_probe_id(const recording *r, const cJSON *p)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(p, "id");
    if (!cJSON_IsNumber(id) || id->valuedouble < 1 || id->valuedouble > r->opt->nprobes ||
        id->valuedouble != (double)(int)id->valuedouble)
        return 0;
    return (int)id->valuedouble;
}

/* The agent's counts (an EVENT, or the reply to install or detach): an
 * object whose probes, if any, are objects naming probes of this
 * recording, with numeric counts.  0 when they can be trusted. */
static int check_stats(recording *r, const cJSON *j, const char *what, char *err, size_t errlen)
{
    if (!cJSON_IsObject(j))
        return violation(r, err, errlen, "%s is not a JSON object", what);
    const cJSON *probes = cJSON_GetObjectItemCaseSensitive(j, "probes"), *p;
    if (probes && !cJSON_IsArray(probes))
        return violation(r, err, errlen, "%s: \"probes\" is not an array", what);
    cJSON_ArrayForEach(p, probes) {
        if (!cJSON_IsObject(p) || !stats_probe_id(r, p))
            return violation(r, err, errlen, "%s names a probe that does not exist (ids are 1..%d)",
                             what, r->opt->nprobes);
        const char *nums[] = {"observations", "drops", "condition_errors"};
        for (size_t k = 0; k < sizeof nums / sizeof *nums; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, nums[k]);
            if (v && (!cJSON_IsNumber(v) || v->valuedouble < 0))
                return violation(r, err, errlen, "%s: probe %d's \"%s\" is not a count", what,
                                 stats_probe_id(r, p), nums[k]);
        }
        const cJSON *inst = cJSON_GetObjectItemCaseSensitive(p, "installed");
        if (inst && !cJSON_IsArray(inst))
            return violation(r, err, errlen, "%s: probe %d's \"installed\" is not an array", what,
                             stats_probe_id(r, p));
    }
    return 0;
}

static void keep_stats(recording *r, const cJSON *j)
{
    char *s = cJSON_PrintUnformatted(j);
    if (s) {
        free(r->agent_stats);
        r->agent_stats = s;
    }
}

/* Why an agent may detach by itself (agent/session.c); another word is
 * reported, not trusted. */
static const char *const agent_reasons[] = {
    "detach", "target-exiting", "deadline", "no-welcome", "recorder-closed", "recorder-error",
    "protocol-error", "poll-error", "recorder-not-reading", "lease-expired", "uninstalled", NULL
};

static int take_event(recording *r, const uint8_t *body, uint32_t len, char *err, size_t errlen)
{
    cJSON *j = cJSON_ParseWithLength((const char *)body, len);
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(j, "event");
    int rc = 0;
    if (!cJSON_IsObject(j) || !cJSON_IsString(ev)) {
        rc = violation(r, err, errlen, "an EVENT frame is not a JSON object with an \"event\"");
    } else if (!strcmp(ev->valuestring, "detached")) {
        const cJSON *why = cJSON_GetObjectItemCaseSensitive(j, "reason");
        int known = 0;
        for (size_t i = 0; cJSON_IsString(why) && agent_reasons[i]; i++)
            known |= !strcmp(why->valuestring, agent_reasons[i]);
        if (!known && !r->opt->quiet)
            fprintf(stderr, "peeka-rec: the agent detached for a reason peeka-rec does not know: %.60s\n",
                    cJSON_IsString(why) ? why->valuestring : "(none given)");
        if (!known)
            r->odd_detach = 1;
        if ((rc = check_stats(r, j, "the agent's detach event", err, errlen)) == 0)
            keep_stats(r, j);
    }   /* other events: newer agents may send them; ignored */
    cJSON_Delete(j);
    return rc;
}

static const char *frame_name(uint8_t type)
{
    static const char *const names[] = {"?", "HELLO", "WELCOME", "REQUEST", "REPLY", "RECORDS", "EVENT",
                                        "SEGMENTS"};
    return type <= PF_TYPE_MAX ? names[type] : "?";
}

/* One frame from the agent.  A REPLY to request `want` (0: none awaited)
 * is handed back in *reply; any other valid reply (to a ping) is dropped.
 * 0 ok, -1 with r->fail set. */
static int take_frame(recording *r, uint8_t type, const uint8_t *body, uint32_t len, int want,
                      cJSON **reply, char *err, size_t errlen)
{
    if (type == PF_RECORDS || type == PF_SEGMENTS)
        return recording_take_wire(r, r->conn, type, body, len, err, errlen);
    if (type == PF_EVENT)
        return take_event(r, body, len, err, errlen);
    if (type != PF_REPLY)
        return violation(r, err, errlen, "it sent a %s frame, which only peeka-rec sends%s",
                         frame_name(type), type == PF_HELLO ? " or only once" : "");
    cJSON *j = cJSON_ParseWithLength((const char *)body, len);
    const cJSON *jid = cJSON_GetObjectItemCaseSensitive(j, "id");
    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(j, "ok");
    int rc = 0;
    if (!cJSON_IsObject(j)) {
        rc = violation(r, err, errlen, "a REPLY is not a JSON object");
    } else if (cJSON_IsNumber(jid) && jid->valuedouble == 0 && cJSON_IsFalse(ok)) {
        /* the agent's word that it could not read one of our frames */
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
        rc = violation(r, err, errlen, "it refused a frame: %.200s",
                       cJSON_IsString(e) ? e->valuestring : "(no reason given)");
    } else if (!cJSON_IsNumber(jid) || jid->valuedouble < 1 ||
               jid->valuedouble > r->conn->next_id || jid->valuedouble != (double)(int)jid->valuedouble) {
        rc = violation(r, err, errlen, "a REPLY has %s (requests sent: 1..%d)",
                       jid ? "an id that is no request of ours" : "no id", r->conn->next_id);
    } else if (!cJSON_IsBool(ok)) {
        rc = violation(r, err, errlen, "the REPLY to request %d has no true/false \"ok\"",
                       (int)jid->valuedouble);
    } else if ((int)jid->valuedouble == want) {
        *reply = j;
        return 0;
    }
    cJSON_Delete(j);
    return rc;
}

/* A malformed stream from conn_next (not a clean EOF or a socket error). */
static int stream_broken(int rc)
{
    return rc == PFE_TYPE || rc == PFE_RESERVED || rc == PFE_TOOBIG || rc == PFE_TRUNC;
}

int recording_take_records(recording *r, const uint8_t *data, uint32_t len, char *err, size_t errlen)
{
    return take_records(r, data, len, err, errlen);
}

/* SEGMENTS only when c's WELCOME asked for them (then c->segs exists); a
 * RECORDS body is expanded with c's segments, then checked as a literal
 * one. */
int recording_take_wire(recording *r, agent_conn *c, uint8_t type, const uint8_t *body,
                        uint32_t len, char *err, size_t errlen)
{
    if (!c->segs)
        return type == PF_RECORDS ? take_records(r, body, len, err, errlen)
                                  : violation(r, err, errlen, "it sent SEGMENTS, which peeka-rec "
                                              "did not ask for");
    char why[200];
    if (type == PF_SEGMENTS)
        return peeka_segs_define(c->segs, body, len, why, sizeof why) < 0
                   ? violation(r, err, errlen, "%s", why) : 0;
    const uint8_t *out;
    size_t n;
    if (peeka_segs_expand(c->segs, body, len, &out, &n, why, sizeof why) < 0)
        return violation(r, err, errlen, "%s", why);
    return take_records(r, out, (uint32_t)n, err, errlen);
}

static int target_gone(recording *r);

/* Waits for the reply to request `id`, moving records that arrive first.
 * NULL with err set: r->fail says whether the agent broke the protocol or
 * the archive failed; neither means the agent is gone or silent. */
static cJSON *await_reply(recording *r, int id, int timeout_ms, char *err, size_t errlen)
{
    int64_t end = mono_ns() + (int64_t)timeout_ms * 1000000;
    while (mono_ns() < end) {
        uint8_t type;
        const uint8_t *body;
        uint32_t len;
        int rc = conn_next(r->conn, 100, &type, &body, &len);
        if (rc < 0) {
            if (stream_broken(rc) && !target_gone(r))
                violation(r, err, errlen, "%s", peeka_frame_strerror(rc));
            else
                snprintf(err, errlen, "agent connection: %s", peeka_frame_strerror(rc));
            return NULL;
        }
        if (rc == 0)
            continue;
        cJSON *reply = NULL;
        if (take_frame(r, type, body, len, id, &reply, err, errlen) < 0)
            return NULL;
        if (reply)
            return reply;
    }
    snprintf(err, errlen, "the agent did not answer within %d ms", timeout_ms);
    return NULL;
}

static char *install_request(const rec_options *o, int launch)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < o->nprobes; i++) {
        const probe_spec *p = &o->probes[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "id", p->id);
        cJSON_AddStringToObject(j, "kind", p->kind);
        if (p->pattern) cJSON_AddStringToObject(j, "pattern", p->pattern);
        pt_values_put(&p->v, j, 0);
        /* a launched program may still be setting up sys.path */
        cJSON_AddBoolToObject(j, "lenient", launch);
        const char *rules[PEEKA_REDACT_MAX];
        int nr = options_redact_rules(o, p, rules, PEEKA_REDACT_MAX);
        if (nr > 0 && pt_key_index(p->pk, "redact") >= 0)   /* the kinds whose records hold values */
            cJSON_AddItemToObject(j, "redact", cJSON_CreateStringArray(rules, nr));
        if (p->nrecord)
            cJSON_AddItemToObject(j, "record", cJSON_CreateStringArray((const char *const *)p->record,
                                                                        p->nrecord));
        cJSON_AddItemToArray(arr, j);
    }
    char *a = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    if (!a) return NULL;
    size_t n = strlen(a) + 64;
    char *m = malloc(n);
    if (m) snprintf(m, n, "\"cmd\":\"install\",\"policy\":\"%s\",\"probes\":%s",
                    o->lossless ? "lossless" : "stream", a);
    cJSON_free(a);
    return m;
}

/* session.json, once: when the probes are in (so that its presence means
 * they are), or before the summary of a recording that ended earlier. */
static int write_session(recording *r, char *err, size_t errlen)
{
    if (r->session_written && !r->session_due)
        return 0;
    r->session_written = 1;
    r->session_due = r->defer_session;   /* --follow-forks -p: once the children are in too */
    if (!r->aw || r->session_due)
        return 0;
    char *sj = recording_session_json(r);
    if (!sj || peeka_aw_member(r->aw, "session.json", sj, strlen(sj)) < 0) {
        snprintf(err, errlen, "%s", sj ? peeka_aw_error(r->aw) : "out of memory");
        free(sj);
        r->fail = EX_WRITE;
        return -1;
    }
    free(sj);
    return 0;
}

/* EX_OK_REC, EX_PROBE, or why the session cannot go on (r->fail, or the
 * agent gone: EX_AGENT_LOST).  adopted: a child --follow-forks attached,
 * mostly still starting, as a launched program is: its probes may wait for
 * modules it cannot even find yet, and stderr does not say so. */
static int install_probes(recording *r, int adopted, char *err, size_t errlen)
{
    char *req = install_request(r->opt, r->child > 0 || adopted);
    int id;
    if (!req || conn_send_request(r->conn, req, &id) < 0) {
        free(req);
        snprintf(err, errlen, "cannot send probes to the agent");
        return EX_AGENT_LOST;
    }
    free(req);
    cJSON *rep = await_reply(r, id, 30000, err, errlen);
    if (!rep)
        return r->fail ? r->fail : EX_AGENT_LOST;
    int rc = EX_OK_REC;
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rep, "ok"))) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(rep, "error");
        if (cJSON_IsString(e) && e->valuestring[0])
            snprintf(err, errlen, "%s", e->valuestring);
        else
            snprintf(err, errlen, "the agent refused the probes without saying why");
        rc = EX_PROBE;
    } else if (check_stats(r, rep, "the reply to install", err, errlen) < 0) {
        rc = r->fail;
    } else if (write_session(r, err, errlen) < 0) {
        rc = EX_WRITE;
    } else if (!adopted && !r->opt->quiet && r->child <= 0) {   /* launch mode: pending is the norm */
        const cJSON *p;
        cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(rep, "probes"))
            if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "pending")) &&
                cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(p, "installed")) == 0)
                fprintf(stderr, "peeka-rec: probe %d waits for its module to be imported\n",
                        stats_probe_id(r, p));
    }
    cJSON_Delete(rep);
    if (rc == EX_OK_REC && conn_send_request(r->conn, "\"cmd\":\"ready\"", &id) == 0) {
        cJSON *rd = await_reply(r, id, 5000, err, errlen);
        cJSON_Delete(rd);
        if (r->fail)
            rc = r->fail;
    }
    if (rc == EX_OK_REC && r->attach.late)
        fprintf(stderr, "peeka-rec: the program did not load the agent within %g s (python -I, -S "
                "or -E in a wrapper or a #! line?); attached to it instead: its calls until now "
                "are not recorded\n", r->opt->attach_timeout_s);
    if (rc == EX_OK_REC)
        holder_ready(r->holder);   /* --detach: the probes are in, the first client may go */
    return rc;
}

int recording_install_on(recording *r, agent_conn *c, char *err, size_t errlen)
{
    agent_conn *main_conn = r->conn;
    r->conn = c;
    int rc = install_probes(r, 1, err, errlen);
    r->conn = main_conn;
    return rc;
}

static int counts_reached(const recording *r)
{
    int finite = 0;
    for (int i = 0; i < r->opt->nprobes; i++) {
        const probe_spec *p = &r->opt->probes[i];
        long long times = probe_times(p);
        if (times < 0)
            return 0;
        finite++;
        long long seen = p->pk->counts_cycles ? cycles_seen[p->id] : r->per_probe[p->id];
        if (seen < times)
            return 0;
    }
    return finite > 0;
}

void recording_progress(const recording *r, int64_t now, char *out, size_t n)
{
    double el = (double)(now - r->start_mono) / 1e9;
    char lim[32] = "";
    if (r->opt->duration_s > 0)
        snprintf(lim, sizeof lim, "/%.0fs", r->opt->duration_s);
    if (r->ring)
        snprintf(out, n, "peeka-rec: %.1fs%s  %lld observations  %llu KiB kept in the ring",
                 el, lim, r->records, (unsigned long long)keep_ring_bytes(r->ring) / 1024);
    else
        snprintf(out, n, "peeka-rec: %.1fs%s  %lld observations  %llu KiB written", el, lim,
                 r->records, r->aw ? (unsigned long long)peeka_aw_bytes_out(r->aw) / 1024 : 0ULL);
}

static void progress(recording *r, int64_t now)
{
    static int64_t last;
    if (r->opt->quiet || !isatty(2) || now - last < 250000000)
        return;
    last = now;
    char line[200];
    recording_progress(r, now, line, sizeof line);
    fprintf(stderr, "\r\033[K%s", line);
}

static void check_child(recording *r)
{
    if (r->child <= 0 || r->child_done)
        return;
    if (launch_reap(r->child, &r->child_status, 0) == 1)
        r->child_done = 1;
}

/* -o -: a reader that went away (a pipe's POLLERR, a socket's or a tty's
 * POLLHUP) ends the recording as cleanly as a limit, even when no record
 * is on its way to find out by writing. */
static int output_gone(recording *r)
{
    if (r->aw || r->out_closed)
        return r->out_closed;
    struct pollfd p = {STDOUT_FILENO, 0, 0};
    if (poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP)))
        r->out_closed = 1;
    return r->out_closed;
}

/* The agent's socket closed: did the target exit, or only the agent?  A
 * process closes its sockets a moment before it can be reaped, so look for
 * up to a second. */
static int target_gone(recording *r)
{
    for (int i = 0; i < 100; i++) {
        if (r->child > 0) {
            check_child(r);
            if (r->child_done)
                return 1;
        } else {
            char path[64], st[256];
            snprintf(path, sizeof path, "/proc/%d/stat", (int)r->opt->pid);
            FILE *f = fopen(path, "r");
            if (!f)
                return 1;
            size_t n = fread(st, 1, sizeof st - 1, f);
            fclose(f);
            st[n] = 0;
            const char *rp = strrchr(st, ')');
            if (rp && (rp[2] == 'Z' || rp[2] == 'X'))
                return 1;
        }
        usleep(10000);
    }
    return 0;
}

const char *rec_end_name(rec_end e)
{
    switch (e) {
    case END_DURATION:       return "duration";
    case END_COUNT:          return "count";
    case END_TARGET_EXITED:  return "target-exited";
    case END_SIGNAL:         return "signal";
    case END_WRITE_ERROR:    return "write-error";
    case END_AGENT_LOST:     return "agent-lost";
    case END_PROTOCOL_ERROR: return "protocol-error";
    case END_OUTPUT_CLOSED:  return "output-closed";
    case END_STOPPED:        return "stopped";
    case END_NONE:           break;
    }
    return "unknown";
}

/* The connection failed: the target exited, the agent broke the stream,
 * or it is gone. */
static rec_end connection_ended(recording *r, int rc, char *err, size_t errlen)
{
    if (target_gone(r))
        return END_TARGET_EXITED;
    if (stream_broken(rc)) {
        violation(r, err, errlen, "%s", peeka_frame_strerror(rc));
        return END_PROTOCOL_ERROR;
    }
    snprintf(err, errlen, "lost the agent: %s%s", peeka_frame_strerror(rc),
             r->odd_detach ? " (it detached for a reason of its own)" : "");
    return END_AGENT_LOST;
}

static rec_end failed(const recording *r)
{
    return r->fail == EX_PROTOCOL ? END_PROTOCOL_ERROR : END_WRITE_ERROR;
}

/* The main loop: returns the reason the recording ends. */
static rec_end pump(recording *r, char *err, size_t errlen)
{
    int64_t next_ping = mono_ns() + 1000000000LL, next_out_check = 0;
    int64_t end = r->opt->duration_s > 0 ? r->start_mono + (int64_t)(r->opt->duration_s * 1e9) : 0;
    for (;;) {
        uint8_t type;
        const uint8_t *body;
        uint32_t len;
        if (counts_reached(r))   /* the records may have come with the install's replies */
            return END_COUNT;
        int rc = conn_next(r->conn, 50, &type, &body, &len);
        if (rc < 0)
            return connection_ended(r, rc, err, errlen);
        cJSON *reply = NULL;
        if (rc == 1 && take_frame(r, type, body, len, 0, &reply, err, errlen) < 0)
            return failed(r);
        if (r->forks && forks_poll(r, err, errlen) < 0)
            return failed(r);
        int64_t now = mono_ns();
        if (r->aw && peeka_aw_flush_due(r->aw, now) < 0) {
            snprintf(err, errlen, "%s", peeka_aw_error(r->aw));
            r->fail = EX_WRITE;
            return END_WRITE_ERROR;
        }
        if (g_stop_signal)
            return END_SIGNAL;
        rec_end pe = policy_tick(r, now, err, errlen);
        if (pe != END_NONE)
            return pe;
        if (r->out_closed || (now >= next_out_check && output_gone(r)))
            return END_OUTPUT_CLOSED;
        if (now >= next_out_check)
            next_out_check = now + 100000000LL;
        if (counts_reached(r))
            return END_COUNT;
        if (end && now >= end)
            return END_DURATION;
        if (now >= next_ping) {
            conn_send_request(r->conn, "\"cmd\":\"ping\"", NULL);
            next_ping = now + 1000000000LL;
        }
        progress(r, now);
    }
}

static void detach(recording *r, char *err, size_t errlen)
{
    int id;
    if (conn_send_request(r->conn, "\"cmd\":\"detach\"", &id) < 0)
        return;
    cJSON *rep = await_reply(r, id, 10000, err, errlen);
    if (rep && check_stats(r, rep, "the reply to detach", err, errlen) == 0)
        keep_stats(r, rep);
    cJSON_Delete(rep);
}

/* After detach, what the agent has still sent before closing. */
static void drain(recording *r, char *err, size_t errlen)
{
    uint8_t type;
    const uint8_t *body;
    uint32_t len;
    int rc = 0;
    cJSON *reply = NULL;
    while (!r->fail && (rc = conn_next(r->conn, 200, &type, &body, &len)) == 1)
        take_frame(r, type, body, len, 0, &reply, err, errlen);
    if (!r->fail && stream_broken(rc) && !target_gone(r))
        violation(r, err, errlen, "%s", peeka_frame_strerror(rc));
}

/* Trusts agent_stats only as far as check_stats() did. */
static cJSON *probe_summaries(const recording *r, long long *drops)
{
    cJSON *agent = r->agent_stats ? cJSON_Parse(r->agent_stats) : NULL;
    const cJSON *aprobes = cJSON_GetObjectItemCaseSensitive(agent, "probes");
    cJSON *arr = cJSON_CreateArray();
    *drops = 0;
    for (int i = 0; i < r->opt->nprobes; i++) {
        const probe_spec *p = &r->opt->probes[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", p->id);
        if (p->pattern) cJSON_AddStringToObject(o, "pattern", p->pattern);
        else cJSON_AddNullToObject(o, "pattern");   /* memory, logger, inspect take none */
        cJSON_AddNumberToObject(o, "observations", (double)r->per_probe[p->id]);
        const cJSON *ap = NULL, *it;
        cJSON_ArrayForEach(it, aprobes)
            if (stats_probe_id(r, it) == p->id) ap = it;
        const char *copy[] = {"drops", "condition_errors", "installed", "pending"};
        for (size_t k = 0; k < 4; k++) {
            const cJSON *v = ap ? cJSON_GetObjectItemCaseSensitive(ap, copy[k]) : NULL;
            cJSON_AddItemToObject(o, copy[k], v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull());
        }
        const char *why[] = {"searched", "suggest"};   /* only when it matched nothing */
        for (size_t k = 0; k < 2; k++) {
            const cJSON *v = ap ? cJSON_GetObjectItemCaseSensitive(ap, why[k]) : NULL;
            if (v)
                cJSON_AddItemToObject(o, why[k], cJSON_Duplicate(v, 1));
        }
        const cJSON *d = ap ? cJSON_GetObjectItemCaseSensitive(ap, "drops") : NULL;
        if (cJSON_IsNumber(d) && *drops >= 0)
            *drops += (long long)d->valuedouble;
        else
            *drops = -1;   /* the agent's counts never arrived: unknown, not 0 */
        cJSON_AddItemToArray(arr, o);
    }
    cJSON_Delete(agent);
    return arr;
}

/* --follow-forks: the recorded process, then every child followed. */
static cJSON *processes_json(const recording *r, int64_t end)
{
    cJSON *arr = forks_json(r), *me = cJSON_CreateObject();
    char ns[32];
    cJSON_AddNumberToObject(me, "pid", r->conn->pid);
    cJSON_AddNullToObject(me, "parent");
    snprintf(ns, sizeof ns, "%lld", (long long)r->start_ns_wall);
    cJSON_AddRawToObject(me, "start_ns", ns);
    snprintf(ns, sizeof ns, "%lld", (long long)end);
    cJSON_AddRawToObject(me, "end_ns", ns);
    cJSON_InsertItemInArray(arr, 0, me);
    return arr;
}

char *recording_summary_json(recording *r, peeka_aw *aw, const char *reason)
{
    cJSON *s = cJSON_CreateObject();
    int64_t end = wall_ns();
    char iso[40];
    iso_time(iso, sizeof iso, end);
    char nsbuf[32];
    snprintf(nsbuf, sizeof nsbuf, "%lld", (long long)end);
    cJSON_AddRawToObject(s, "end_ns", nsbuf);
    cJSON_AddStringToObject(s, "end", iso);
    cJSON_AddStringToObject(s, "reason", reason ? reason : rec_end_name(r->reason));
    if (r->reason == END_PROTOCOL_ERROR)
        cJSON_AddStringToObject(s, "error", r->error);
    cJSON_AddBoolToObject(s, "complete", 1);
    cJSON_AddNumberToObject(s, "records", (double)r->records);
    cJSON_AddNumberToObject(s, "chunks", (double)peeka_aw_chunks(aw));
    cJSON_AddNumberToObject(s, "bytes_jsonl", (double)peeka_aw_bytes_in(aw));
    long long drops;
    cJSON *probes = probe_summaries(r, &drops);
    if (drops >= 0)
        cJSON_AddNumberToObject(s, "drops", (double)drops);
    else
        cJSON_AddNullToObject(s, "drops");
    cJSON_AddItemToObject(s, "probes", probes);
    if (r->forks)
        cJSON_AddItemToObject(s, "processes", processes_json(r, end));
    if (r->child > 0 && r->child_done)
        cJSON_AddNumberToObject(s, "target_exit", WIFEXITED(r->child_status) ? WEXITSTATUS(r->child_status)
                                                    : 128 + WTERMSIG(r->child_status));
    else
        cJSON_AddNullToObject(s, "target_exit");
    policy_summary(r, s);
    char *out = cJSON_PrintUnformatted(s);
    cJSON_Delete(s);
    return out;
}

/* ", try a, b, c" from the agent's suggestions, or "". */
static void suggestions(const cJSON *p, char *out, size_t n)
{
    const cJSON *s;
    size_t k = 0;
    out[0] = 0;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(p, "suggest"))
        if (cJSON_IsString(s) && k < n)
            k += (size_t)snprintf(out + k, n - k, "%s%s", k ? ", " : "; try ", s->valuestring);
}

static void report_pending(const recording *r)
{
    if (r->forks && r->records > 0)
        return;   /* the counts are the first process's; its children recorded */
    cJSON *agent = r->agent_stats ? cJSON_Parse(r->agent_stats) : NULL;
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(agent, "probes")) {
        const cJSON *inst = cJSON_GetObjectItemCaseSensitive(p, "installed");
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(p, "searched");
        int id = stats_probe_id(r, p);
        if (!id || cJSON_GetArraySize(inst) != 0 || !r->opt->probes[id - 1].pattern ||
            pt_is_snapshot(r->opt->probes[id - 1].pk->kind))
            continue;   /* matched something, or a kind that matches no functions */
        const char *pat = r->opt->probes[id - 1].pattern;
        if (cJSON_IsString(in)) {
            char try[600];
            suggestions(p, try, sizeof try);
            fprintf(stderr, "peeka-rec: probe %d (%s) matched nothing in %s: each * stands for one "
                    "name, so it matched only what %s itself defines%s\n", id, pat,
                    in->valuestring, in->valuestring, try);
        } else {
            fprintf(stderr, "peeka-rec: probe %d (%s) matched nothing: its module was never imported\n",
                    id, pat);
        }
    }
    cJSON_Delete(agent);
}

/* Attach mode: a probe that saw nothing in a process whose children run
 * the same Python is most likely watching the wrong process (a gunicorn
 * master whose workers serve the requests). */
static void report_idle_parent(const recording *r)
{
    if (r->forks)
        return;   /* the children were recorded too */
    int idle = 0;
    for (int i = 0; i < r->opt->nprobes; i++)
        idle += r->per_probe[r->opt->probes[i].id] == 0 && !pt_is_snapshot(r->opt->probes[i].pk->kind);
    if (r->child > 0 || !idle || !r->opt->pid)
        return;
    pid_t kids[8];
    int n = pk_same_exe_children(r->opt->pid, kids, 8);
    if (n <= 0)
        return;
    char list[128] = "";
    size_t k = 0;
    for (int i = 0; i < n && i < 8 && k < sizeof list; i++)
        k += (size_t)snprintf(list + k, sizeof list - k, "%s%d", i ? " " : "", (int)kids[i]);
    fprintf(stderr, "peeka-rec: %d probe%s recorded nothing in pid %d, which has %d child "
            "process%s running the same Python (%s%s): the calls may happen there (workers); "
            "record one with -p CHILD, or all of them with --follow-forks\n", idle, idle == 1 ? "" : "s", (int)r->opt->pid, n,
            n == 1 ? "" : "es", list, n > 8 ? " ..." : "");
}

static int finish(recording *r, char *err, size_t errlen);

int recording_run(recording *r, char *err, size_t errlen)
{
    r->start_mono = mono_ns();
    for (int i = 0; i < r->opt->nprobes; i++)
        r->counts_cycles |= r->opt->probes[i].pk->counts_cycles;
    r->start_ns_wall = wall_ns();
    r->defer_session = r->forks && r->child <= 0;
    int rc = install_probes(r, 0, err, errlen);
    if (rc == EX_PROBE || rc == EX_WRITE)
        return rc;
    if (rc == EX_PROTOCOL)
        r->reason = END_PROTOCOL_ERROR;
    else if (rc == EX_AGENT_LOST)
        r->reason = target_gone(r) ? END_TARGET_EXITED : END_AGENT_LOST;
    else {
        if (r->defer_session) {
            forks_adopt_existing(r);
            r->defer_session = 0;
            if (write_session(r, err, errlen) < 0)
                return EX_WRITE;
        }
        r->reason = pump(r, err, errlen);
    }
    if (r->reason != END_TARGET_EXITED && r->reason != END_AGENT_LOST &&
        r->reason != END_PROTOCOL_ERROR && r->reason != END_WRITE_ERROR) {
        detach(r, err, errlen);
        drain(r, err, errlen);
    }
    if (r->forks && r->fail != EX_WRITE)
        forks_finish(r, err, errlen);
    if (r->fail == EX_PROTOCOL)   /* also when the detach reply or the last records were bad */
        r->reason = END_PROTOCOL_ERROR;
    if (!r->opt->quiet && isatty(2))
        fputs("\r\033[K", stderr);
    if (r->fail == EX_WRITE)
        return EX_WRITE;
    report_pending(r);
    report_idle_parent(r);
    return finish(r, err, errlen);
}

int recording_outside_begin(recording *r, char *err, size_t errlen)
{
    r->start_mono = mono_ns();
    r->counts_cycles = 1;
    r->start_ns_wall = wall_ns();
    /* nothing is dropped: the records are all there are */
    free(r->agent_stats);
    r->agent_stats = strdup("{\"probes\":[{\"id\":1,\"drops\":0,\"condition_errors\":0}]}");
    if (!r->agent_stats) {
        snprintf(err, errlen, "out of memory");
        return EX_INTERNAL;
    }
    return write_session(r, err, errlen) < 0 ? EX_WRITE : EX_OK_REC;
}

int recording_outside_end(recording *r, rec_end reason, char *err, size_t errlen)
{
    r->reason = reason;
    if (!r->opt->quiet && isatty(2))
        fputs("\r\033[K", stderr);
    return finish(r, err, errlen);
}

int recording_of_records(recording *r, const char *jsonl, size_t len, char *err, size_t errlen)
{
    int rc = recording_outside_begin(r, err, errlen);
    if (rc != EX_OK_REC)
        return rc;
    if (recording_take_records(r, (const uint8_t *)jsonl, (uint32_t)len, err, errlen) < 0)
        return r->fail ? r->fail : EX_WRITE;
    return recording_outside_end(r, END_COUNT, err, errlen);
}

/* session.json if still due, the buffer policy's end, the summary. */
static int finish(recording *r, char *err, size_t errlen)
{
    char serr[512];
    if (write_session(r, serr, sizeof serr) < 0) {
        snprintf(err, errlen, "%s", serr);
        return EX_WRITE;
    }
    if (policy_finish(r, err, errlen) < 0)
        return EX_WRITE;
    if (r->aw && peeka_aw_flush(r->aw) < 0) {
        snprintf(err, errlen, "%s", peeka_aw_error(r->aw));
        return EX_WRITE;
    }
    if (r->aw) {
        char *sum = recording_summary_json(r, r->aw, NULL);
        peeka_aw *aw = r->aw;
        r->aw = NULL;
        char cerr[512];
        if (!sum || peeka_aw_close(aw, sum, strlen(sum), cerr, sizeof cerr) < 0) {
            snprintf(err, errlen, "%s", sum ? cerr : "out of memory");
            free(sum);
            return EX_WRITE;
        }
        free(sum);
    }
    switch (r->reason) {
    case END_TARGET_EXITED:  return EX_TARGET_EXITED;
    case END_AGENT_LOST:     return EX_AGENT_LOST;
    case END_PROTOCOL_ERROR: return EX_PROTOCOL;
    default:                 return EX_OK_REC;
    }
}
