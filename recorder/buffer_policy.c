#include "buffer_policy.h"
#include "exitcodes.h"
#include "session_holder.h"
#include "signals.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int policy_start(recording *r, char *err, size_t errlen)
{
    if (!r->opt->ring_bytes)
        return 0;
    if (!(r->ring = keep_ring_new(r->opt->ring_bytes))) {
        snprintf(err, errlen, "--ring: cannot allocate %zu bytes", r->opt->ring_bytes);
        return -1;
    }
    return 0;
}

void policy_free(recording *r)
{
    keep_ring_free(r->ring);
    r->ring = NULL;
}

int policy_keep(recording *r, const uint8_t *data, size_t len)
{
    keep_ring_add(r->ring, data, len);
    return 0;
}

/* keep_ring_each's callback: lines into the archive ctx, counted there. */
typedef struct {
    recording *r;
    peeka_aw *aw;
} pour_ctx;

static int pour(void *ctx, const uint8_t *lines, size_t len)
{
    pour_ctx *c = ctx;
    recording_count(c->r, lines, len);
    return peeka_aw_append_records(c->aw, lines, len);
}

/* The ring's records into aw, r's counts becoming those of what aw holds. */
static int pour_ring(recording *r, peeka_aw *aw)
{
    memset(r->per_probe, 0, sizeof r->per_probe);
    r->records = 0;
    pour_ctx c = {r, aw};
    return keep_ring_each(r->ring, pour, &c) == 0 && peeka_aw_flush(aw) == 0 ? 0 : -1;
}

/* NAME.tar.zst -> NAME.snapshot-N.tar.zst (any other name gets the suffix). */
static int snapshot_path(const recording *r, char *out, size_t n)
{
    const char *partial = peeka_aw_partial_path(r->aw);
    size_t len = strlen(partial) - (sizeof ".partial" - 1);
    if (len > 8 && !memcmp(partial + len - 8, ".tar.zst", 8))
        len -= 8;
    int k = snprintf(out, n, "%.*s.snapshot-%d.tar.zst", (int)len, partial, r->snapshots + 1);
    return k > 0 && (size_t)k < n ? 0 : -1;
}

static int write_snapshot_to(recording *r, peeka_aw *aw, char *err, size_t errlen)
{
    char *sj = recording_session_json(r);
    int rc = sj && peeka_aw_member(aw, "session.json", sj, strlen(sj)) == 0 ? pour_ring(r, aw) : -1;
    free(sj);
    char *sum = rc == 0 ? recording_summary_json(r, aw, "snapshot") : NULL;
    if (rc < 0 || !sum) {
        snprintf(err, errlen, "snapshot: %s", sj ? peeka_aw_error(aw) : "out of memory");
        peeka_aw_discard(aw);
        free(sum);
        return -1;
    }
    rc = peeka_aw_close(aw, sum, strlen(sum), err, errlen);
    free(sum);
    return rc;
}

/* A complete archive of what the ring holds now; the recording goes on.
 * Its counts are the snapshot's while it is written, then back. */
static int write_snapshot(recording *r, char *err, size_t errlen)
{
    char path[PATH_MAX];
    if (snapshot_path(r, path, sizeof path) < 0) {
        snprintf(err, errlen, "snapshot: the archive's name is too long for a snapshot's");
        return -1;
    }
    peeka_aw *aw = peeka_aw_open(path, NULL, r->opt->zstd_level, err, errlen);
    if (!aw)
        return -1;
    peeka_aw_set_mode(aw, r->opt->mode);
    long long per_probe[MAX_REC_PROBES + 1], records = r->records;
    memcpy(per_probe, r->per_probe, sizeof per_probe);
    r->seen_records = records;
    int rc = write_snapshot_to(r, aw, err, errlen);
    memcpy(r->per_probe, per_probe, sizeof per_probe);
    r->records = records;
    r->seen_records = 0;
    if (rc == 0)
        r->snapshots++;
    return rc;
}

/* SIGUSR1: stream mode flushes the pending chunk; ring mode writes a
 * snapshot.  A snapshot that fails is said (while there is a terminal)
 * and the recording goes on: the ring is intact. */
static rec_end flush_now(recording *r, char *err, size_t errlen)
{
    if (!r->aw)
        return END_NONE;
    if (!r->ring) {
        if (peeka_aw_flush(r->aw) == 0)
            return END_NONE;
        snprintf(err, errlen, "%s", peeka_aw_error(r->aw));
        r->fail = EX_WRITE;
        return END_WRITE_ERROR;
    }
    char why[600];
    if (write_snapshot(r, why, sizeof why) < 0 && !r->opt->quiet)
        fprintf(stderr, "peeka-rec: %s\n", why);
    return END_NONE;
}

rec_end policy_tick(recording *r, int64_t now, char *err, size_t errlen)
{
    if (g_flush_signal) {
        g_flush_signal = 0;
        rec_end e = flush_now(r, err, errlen);
        if (e != END_NONE)
            return e;
    }
    return holder_tick(r->holder, r, now) ? END_STOPPED : END_NONE;
}

int policy_finish(recording *r, char *err, size_t errlen)
{
    if (!r->ring || !r->aw)
        return 0;
    r->seen_records = r->records;
    if (pour_ring(r, r->aw) < 0) {
        snprintf(err, errlen, "%s", peeka_aw_error(r->aw));
        return -1;
    }
    return 0;
}

void policy_summary(const recording *r, cJSON *summary)
{
    cJSON *p = cJSON_AddObjectToObject(summary, "policy");
    cJSON_AddStringToObject(p, "name", r->ring ? "ring" : r->opt->lossless ? "lossless" : "stream");
    cJSON_AddNumberToObject(p, "flush_period_s", r->opt->flush_period_s);
    if (!r->ring)
        return;
    cJSON_AddNumberToObject(p, "ring_bytes", (double)keep_ring_size(r->ring));
    cJSON_AddNumberToObject(p, "records_seen", (double)(r->seen_records ? r->seen_records : r->records));
    cJSON_AddNumberToObject(p, "records_overwritten", (double)keep_ring_overwritten(r->ring));
    cJSON_AddNumberToObject(p, "snapshots", r->snapshots);
}
