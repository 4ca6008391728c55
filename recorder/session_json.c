/* session.json, the archive's first member (docs/format.md). */
#include "recording.h"
#include "follow_forks.h"

#include <cJSON.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A command line may carry a secret too (`--password x`, `token=x`):
 * the rules every probe applies hide it. */
static cJSON *argv_item(const peeka_redact *r, const char *word, int after_secret_option)
{
    if (after_secret_option)
        return cJSON_CreateString(PEEKA_REDACTED);
    char *clean;
    size_t len;
    int rc = peeka_redact_text(r, word, strlen(word), &clean, &len);
    if (rc == 0)
        return cJSON_CreateString(word);
    cJSON *j = cJSON_CreateString(rc > 0 ? clean : PEEKA_REDACTED);
    free(clean);
    return j;
}

static cJSON *target_argv(pid_t pid, const rec_options *o)
{
    cJSON *arr = cJSON_CreateArray();
    char path[64], buf[8192];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return arr;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;   /* a command line cut at the buffer ends here */
    peeka_redact r;
    peeka_redact_init(&r);
    const char *rules[PEEKA_REDACT_MAX];
    int nr = options_redact_rules(o, NULL, rules, PEEKA_REDACT_MAX);
    char err[400];
    for (int i = 0; i < nr; i++)
        if (peeka_redact_add(&r, rules[i], err, sizeof err) < 0)
            break;   /* unreachable: options.c compiled each one already */
    int secret_next = 0;
    for (ssize_t i = 0; i < n;) {
        size_t l = strnlen(buf + i, (size_t)(n - i));
        cJSON_AddItemToArray(arr, argv_item(&r, buf + i, secret_next));
        secret_next = !secret_next && peeka_redact_option(&r, buf + i);
        i += (ssize_t)l + 1;
    }
    peeka_redact_free(&r);
    return arr;
}

static cJSON *probes_json(const rec_options *o)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < o->nprobes; i++) {
        const probe_spec *p = &o->probes[i];
        cJSON *j = cJSON_CreateObject(), *opt = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "id", p->id);
        cJSON_AddStringToObject(j, "kind", p->kind);
        if (p->pattern) cJSON_AddStringToObject(j, "pattern", p->pattern);
        else cJSON_AddNullToObject(j, "pattern");
        cJSON_AddStringToObject(j, "spec", p->spec);
        pt_values_put(&p->v, opt, 1);
        if (pt_key_index(p->pk, "record") >= 0) {
            if (p->nrecord)
                cJSON_AddItemToObject(opt, "record", cJSON_CreateStringArray(
                                          (const char *const *)p->record, p->nrecord));
            else
                cJSON_AddNullToObject(opt, "record");
        }
        cJSON_AddItemToObject(opt, "redact", cJSON_CreateStringArray((const char *const *)p->redact,
                                                                      p->nredact));
        cJSON_AddItemToObject(j, "options", opt);
        cJSON_AddItemToArray(arr, j);
    }
    return arr;
}

/* The rules, never what they hid: a probe applies these and its own
 * options.redact (docs/format.md "Redaction"). */
static cJSON *redaction_json(const rec_options *o)
{
    cJSON *j = cJSON_CreateObject();
    const char *rules[PEEKA_REDACT_MAX];
    int n = options_redact_rules(o, NULL, rules, PEEKA_REDACT_MAX);
    cJSON_AddBoolToObject(j, "default", o->default_redact);
    cJSON_AddItemToObject(j, "rules", cJSON_CreateStringArray(rules, n));
    cJSON_AddStringToObject(j, "replacement", PEEKA_REDACTED);
    return j;
}

char *recording_session_json(const recording *r)
{
    const rec_options *o = r->opt;
    pid_t pid = r->conn->pid;
    cJSON *s = cJSON_CreateObject(), *t = cJSON_CreateObject(), *lim = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "format", "peeka-archive");
    cJSON_AddNumberToObject(s, "format_version", 1);
    cJSON_AddStringToObject(s, "tool", "peeka-rec");
    cJSON_AddStringToObject(s, "tool_version", PEEKA_VERSION);
    cJSON_AddStringToObject(s, "mode", r->mode);
    cJSON_AddNumberToObject(t, "pid", pid);
    cJSON_AddItemToObject(t, "argv", target_argv(pid, o));
    char exe_link[64], exe[4096];
    snprintf(exe_link, sizeof exe_link, "/proc/%d/exe", (int)pid);
    ssize_t n = readlink(exe_link, exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    cJSON_AddStringToObject(t, "exe", exe);
    cJSON_AddStringToObject(t, "python", r->conn->python);
    struct stat st;
    char proc[32];
    snprintf(proc, sizeof proc, "/proc/%d", (int)pid);
    if (stat(proc, &st) == 0) cJSON_AddNumberToObject(t, "uid", st.st_uid);
    cJSON_AddItemToObject(s, "target", t);
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) < 0) host[0] = 0;
    cJSON_AddStringToObject(s, "host", host);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    char iso[40];
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    size_t k = strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(iso + k, sizeof iso - k, ".%03dZ", (int)(now.tv_nsec / 1000000));
    char nsbuf[32];
    snprintf(nsbuf, sizeof nsbuf, "%lld", (long long)ns);
    cJSON_AddRawToObject(s, "start_ns", nsbuf);
    cJSON_AddStringToObject(s, "start", iso);
    if (o->duration_s > 0) cJSON_AddNumberToObject(lim, "duration_s", o->duration_s);
    else cJSON_AddNullToObject(lim, "duration_s");
    cJSON_AddItemToObject(s, "limits", lim);
    cJSON *via = cJSON_AddObjectToObject(s, "attach");
    cJSON_AddStringToObject(via, "route", r->attach.route ? r->attach.route : "none");
    cJSON_AddNumberToObject(via, "ms", (double)(long long)(r->attach.ms * 10 + 0.5) / 10);
    if (r->attach.fallback[0])
        cJSON_AddStringToObject(via, "fallback", r->attach.fallback);
    if (r->attach.late)
        cJSON_AddTrueToObject(via, "late");
    if (o->follow_forks) {
        cJSON_AddTrueToObject(s, "follow_forks");
        cJSON_AddItemToObject(s, "processes", forks_json(r));   /* recorded from the start */
    }
    cJSON *agent = cJSON_AddObjectToObject(s, "agent");
    cJSON_AddNumberToObject(agent, "buffer_bytes", (double)o->buffer_bytes);
    cJSON_AddItemToObject(s, "probes", probes_json(o));
    cJSON_AddItemToObject(s, "redaction", redaction_json(o));
    char *out = cJSON_PrintUnformatted(s);
    cJSON_Delete(s);
    return out;
}
