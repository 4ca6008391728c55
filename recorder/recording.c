#include "recording.h"
#include "exitcodes.h"

#include <cJSON.h>
#include <errno.h>
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

/* Every record line starts with the agent's fixed prefix, so the probe id
 * is found without parsing the line. */
static int probe_of(const char *line, size_t len)
{
    size_t lim = len < 96 ? len : 96;
    const char *k = memmem(line, lim, "\"probe_id\":", 11);
    return k ? atoi(k + 11) : 0;
}

/* monitor: the highest `cycle` seen per probe, for its -c (the agent puts
 * `cycle` right after `probe_id`). */
static long long cycles_seen[MAX_REC_PROBES + 1];

static void note_cycle(int id, const char *line, size_t len)
{
    size_t lim = len < 128 ? len : 128;
    const char *k = memmem(line, lim, "\"cycle\":", 8);
    if (k) {
        long long c = atoll(k + 8);
        if (c > cycles_seen[id])
            cycles_seen[id] = c;
    }
}

static int take_records(recording *r, const uint8_t *data, uint32_t len, char *err, size_t errlen)
{
    uint64_t lines = 0;
    for (const uint8_t *p = data, *end = data + len; p < end;) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        int id = probe_of((const char *)p, l);
        if (id > 0 && id <= MAX_REC_PROBES) {
            r->per_probe[id]++;
            note_cycle(id, (const char *)p, l);
        }
        lines++;
        p += l + 1;
    }
    r->records += (long long)lines;
    if (!r->aw) {
        if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
            snprintf(err, errlen, "cannot write to stdout: %s", strerror(errno));
            return -1;
        }
        return 0;
    }
    if (peeka_aw_append_records(r->aw, data, len, lines) < 0) {
        snprintf(err, errlen, "%s", peeka_aw_error(r->aw));
        return -1;
    }
    return 0;
}

/* Waits for the reply to request `id`, moving records that arrive first. */
static cJSON *await_reply(recording *r, int id, int timeout_ms, char *err, size_t errlen)
{
    int64_t end = mono_ns() + (int64_t)timeout_ms * 1000000;
    while (mono_ns() < end) {
        uint8_t type;
        const uint8_t *body;
        uint32_t len;
        int rc = conn_next(r->conn, 100, &type, &body, &len);
        if (rc < 0) {
            snprintf(err, errlen, "agent connection: %s", peeka_frame_strerror(rc));
            return NULL;
        }
        if (rc == 0)
            continue;
        if (type == PF_RECORDS) {
            if (take_records(r, body, len, err, errlen) < 0)
                return NULL;
        } else if (type == PF_REPLY) {
            cJSON *j = cJSON_ParseWithLength((const char *)body, len);
            const cJSON *jid = cJSON_GetObjectItemCaseSensitive(j, "id");
            if (cJSON_IsNumber(jid) && jid->valueint == id)
                return j;
            cJSON_Delete(j);
        } else if (type == PF_EVENT) {
            free(r->agent_stats);
            r->agent_stats = strndup((const char *)body, len);
        }
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
        cJSON_AddStringToObject(j, "pattern", p->pattern);
        cJSON_AddNumberToObject(j, "depth", p->depth);
        cJSON_AddNumberToObject(j, "times", (double)p->times);
        if (p->condition) cJSON_AddStringToObject(j, "condition", p->condition);
        cJSON_AddBoolToObject(j, "at_enter", p->at_enter);
        cJSON_AddBoolToObject(j, "at_success", p->at_success);
        cJSON_AddBoolToObject(j, "at_exception", p->at_exception);
        if (strcmp(p->kind, "watch")) {
            cJSON_AddNumberToObject(j, "max_depth", p->max_depth);
            cJSON_AddBoolToObject(j, "skip_builtin", p->skip_builtin);
            cJSON_AddNumberToObject(j, "min_duration_ms", p->min_duration_ms);
            cJSON_AddNumberToObject(j, "fold_below_ms", p->fold_below_ms);
            cJSON_AddNumberToObject(j, "interval_s", p->interval_s);
        }
        /* a launched program may still be setting up sys.path */
        cJSON_AddBoolToObject(j, "lenient", launch);
        cJSON_AddItemToArray(arr, j);
    }
    char *a = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    if (!a) return NULL;
    size_t n = strlen(a) + 32;
    char *m = malloc(n);
    if (m) snprintf(m, n, "\"cmd\":\"install\",\"probes\":%s", a);
    cJSON_free(a);
    return m;
}

static int install_probes(recording *r, char *err, size_t errlen)
{
    char *req = install_request(r->opt, r->child > 0);
    int id;
    if (!req || conn_send_request(r->conn, req, &id) < 0) {
        free(req);
        snprintf(err, errlen, "cannot send probes to the agent");
        return EX_AGENT_LOST;
    }
    free(req);
    cJSON *rep = await_reply(r, id, 30000, err, errlen);
    if (!rep)
        return EX_AGENT_LOST;
    int rc = EX_OK_REC;
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rep, "ok"))) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(rep, "error");
        snprintf(err, errlen, "%s", cJSON_IsString(e) ? e->valuestring : "probe installation failed");
        rc = EX_PROBE;
    } else if (!r->opt->quiet && r->child <= 0) {   /* launch mode: pending is the norm */
        const cJSON *p;
        cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(rep, "probes"))
            if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "pending")) &&
                cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(p, "installed")) == 0)
                fprintf(stderr, "peeka-rec: probe %d waits for its module to be imported\n",
                        cJSON_GetObjectItemCaseSensitive(p, "id")->valueint);
    }
    cJSON_Delete(rep);
    if (rc == EX_OK_REC && conn_send_request(r->conn, "\"cmd\":\"ready\"", &id) == 0) {
        cJSON *rd = await_reply(r, id, 5000, err, errlen);
        cJSON_Delete(rd);
    }
    return rc;
}

static int counts_reached(const recording *r)
{
    int finite = 0;
    for (int i = 0; i < r->opt->nprobes; i++) {
        const probe_spec *p = &r->opt->probes[i];
        if (p->times < 0)
            return 0;
        finite++;
        long long seen = strcmp(p->kind, "monitor") ? r->per_probe[p->id] : cycles_seen[p->id];
        if (seen < p->times)
            return 0;
    }
    return finite > 0;
}

static void progress(recording *r, int64_t now)
{
    static int64_t last;
    if (r->opt->quiet || !isatty(2) || now - last < 250000000)
        return;
    last = now;
    double el = (double)(now - r->start_mono) / 1e9;
    char lim[32] = "";
    if (r->opt->duration_s > 0)
        snprintf(lim, sizeof lim, "/%.0fs", r->opt->duration_s);
    fprintf(stderr, "\r\033[Kpeeka-rec: %.1fs%s  %lld observations  %llu KiB written",
            el, lim, r->records, r->aw ? (unsigned long long)peeka_aw_bytes_out(r->aw) / 1024 : 0ULL);
}

static void check_child(recording *r)
{
    if (r->child <= 0 || r->child_done)
        return;
    if (waitpid(r->child, &r->child_status, WNOHANG) == r->child)
        r->child_done = 1;
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

/* The main loop: returns the reason the recording ends. */
static const char *pump(recording *r, char *err, size_t errlen, int *fatal)
{
    int64_t next_ping = mono_ns() + 1000000000LL;
    int64_t end = r->opt->duration_s > 0 ? r->start_mono + (int64_t)(r->opt->duration_s * 1e9) : 0;
    for (;;) {
        uint8_t type;
        const uint8_t *body;
        uint32_t len;
        int rc = conn_next(r->conn, 50, &type, &body, &len);
        if (rc < 0) {
            if (target_gone(r))
                return "target-exited";
            snprintf(err, errlen, "lost the agent: %s", peeka_frame_strerror(rc));
            return "agent-lost";
        }
        if (rc == 1 && type == PF_RECORDS && take_records(r, body, len, err, errlen) < 0) {
            *fatal = EX_WRITE;
            return "write-error";
        }
        if (rc == 1 && type == PF_EVENT) {
            free(r->agent_stats);
            r->agent_stats = strndup((const char *)body, len);
        }
        int64_t now = mono_ns();
        if (r->aw && peeka_aw_flush_due(r->aw, now) < 0) {
            snprintf(err, errlen, "%s", peeka_aw_error(r->aw));
            *fatal = EX_WRITE;
            return "write-error";
        }
        if (g_stop_signal)
            return "signal";
        if (counts_reached(r))
            return "count";
        if (end && now >= end)
            return "duration";
        if (now >= next_ping) {
            conn_send_request(r->conn, "\"cmd\":\"ping\"", NULL);
            next_ping = now + 1000000000LL;
        }
        progress(r, now);
    }
}

static void detach(recording *r)
{
    int id;
    char err[256];
    if (conn_send_request(r->conn, "\"cmd\":\"detach\"", &id) < 0)
        return;
    cJSON *rep = await_reply(r, id, 10000, err, sizeof err);
    if (rep) {
        free(r->agent_stats);
        r->agent_stats = cJSON_PrintUnformatted(rep);
        cJSON_Delete(rep);
    }
}

/* After detach, what the agent has still sent before closing. */
static void drain(recording *r, char *err, size_t errlen)
{
    uint8_t type;
    const uint8_t *body;
    uint32_t len;
    int rc;
    while ((rc = conn_next(r->conn, 200, &type, &body, &len)) == 1) {
        if (type == PF_RECORDS)
            take_records(r, body, len, err, errlen);
        else if (type == PF_EVENT) {
            free(r->agent_stats);
            r->agent_stats = strndup((const char *)body, len);
        }
    }
}

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
        cJSON_AddStringToObject(o, "pattern", p->pattern);
        cJSON_AddNumberToObject(o, "observations", (double)r->per_probe[p->id]);
        const cJSON *ap = NULL, *it;
        cJSON_ArrayForEach(it, aprobes)
            if (cJSON_GetObjectItemCaseSensitive(it, "id")->valueint == p->id) ap = it;
        const char *copy[] = {"drops", "condition_errors", "installed", "pending"};
        for (size_t k = 0; k < 4; k++) {
            const cJSON *v = ap ? cJSON_GetObjectItemCaseSensitive(ap, copy[k]) : NULL;
            cJSON_AddItemToObject(o, copy[k], v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull());
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

static char *summary_json(recording *r)
{
    cJSON *s = cJSON_CreateObject();
    int64_t end = wall_ns();
    char iso[40];
    iso_time(iso, sizeof iso, end);
    char nsbuf[32];
    snprintf(nsbuf, sizeof nsbuf, "%lld", (long long)end);
    cJSON_AddRawToObject(s, "end_ns", nsbuf);
    cJSON_AddStringToObject(s, "end", iso);
    cJSON_AddStringToObject(s, "reason", r->reason);
    cJSON_AddBoolToObject(s, "complete", 1);
    cJSON_AddNumberToObject(s, "records", (double)r->records);
    cJSON_AddNumberToObject(s, "chunks", (double)peeka_aw_chunks(r->aw));
    cJSON_AddNumberToObject(s, "bytes_jsonl", (double)peeka_aw_bytes_in(r->aw));
    long long drops;
    cJSON *probes = probe_summaries(r, &drops);
    if (drops >= 0)
        cJSON_AddNumberToObject(s, "drops", (double)drops);
    else
        cJSON_AddNullToObject(s, "drops");
    cJSON_AddItemToObject(s, "probes", probes);
    if (r->child > 0 && r->child_done)
        cJSON_AddNumberToObject(s, "target_exit", WIFEXITED(r->child_status) ? WEXITSTATUS(r->child_status)
                                                    : 128 + WTERMSIG(r->child_status));
    else
        cJSON_AddNullToObject(s, "target_exit");
    char *out = cJSON_PrintUnformatted(s);
    cJSON_Delete(s);
    return out;
}

static void report_pending(const recording *r)
{
    cJSON *agent = r->agent_stats ? cJSON_Parse(r->agent_stats) : NULL;
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(agent, "probes")) {
        const cJSON *inst = cJSON_GetObjectItemCaseSensitive(p, "installed");
        if (cJSON_GetArraySize(inst) == 0) {
            int id = cJSON_GetObjectItemCaseSensitive(p, "id")->valueint;
            fprintf(stderr, "peeka-rec: probe %d (%s) matched nothing: its module was never imported\n",
                    id, r->opt->probes[id - 1].pattern);
        }
    }
    cJSON_Delete(agent);
}

int recording_run(recording *r, char *err, size_t errlen)
{
    r->start_mono = mono_ns();
    int rc = install_probes(r, err, errlen);
    if (rc != EX_OK_REC)
        return rc;
    if (r->aw) {
        char *sj = recording_session_json(r);
        if (!sj || peeka_aw_member(r->aw, "session.json", sj, strlen(sj)) < 0) {
            snprintf(err, errlen, "%s", r->aw ? peeka_aw_error(r->aw) : "out of memory");
            free(sj);
            detach(r);
            return EX_WRITE;
        }
        free(sj);
    }
    int fatal = 0;
    const char *why = pump(r, err, errlen, &fatal);
    snprintf(r->reason, sizeof r->reason, "%s", why);
    if (strcmp(why, "target-exited") && strcmp(why, "agent-lost")) {
        detach(r);
        drain(r, err, errlen);
    }
    if (!r->opt->quiet && isatty(2))
        fputs("\r\033[K", stderr);
    report_pending(r);
    if (fatal)
        return fatal;
    if (r->aw && peeka_aw_flush(r->aw) < 0) {
        snprintf(err, errlen, "%s", peeka_aw_error(r->aw));
        return EX_WRITE;
    }
    if (r->aw) {
        char *sum = summary_json(r);
        peeka_aw *aw = r->aw;
        r->aw = NULL;
        if (!sum || peeka_aw_close(aw, sum, strlen(sum), err, errlen) < 0) {
            free(sum);
            return EX_WRITE;
        }
        free(sum);
    }
    if (!strcmp(why, "target-exited")) return EX_TARGET_EXITED;
    if (!strcmp(why, "agent-lost")) return EX_AGENT_LOST;
    return EX_OK_REC;
}
