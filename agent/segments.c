/* The agent's segment table (segments.h).  One fixed arena, so that the
 * agent thread can read published bytes while hooks append more; hooks
 * append under a lock (interning is rare: once per probe, function
 * location and thread name), the agent thread reads without it. */
#include "segments.h"
#include "frame.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

atomic_uint g_seg_gen;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned gen_counter;           /* under mu: the last generation handed out */
static char *arena;                    /* PEEKA_SEG_BYTES_MAX, under mu */
static size_t used;                    /* under mu */
static uint32_t off[PEEKA_SEG_MAX];    /* written under mu before count publishes them */
static uint16_t len[PEEKA_SEG_MAX];
static atomic_uint count;
static unsigned sent;                  /* agent thread: definitions this connection has */

static int bytes_ok(const char *b, size_t n)
{
    if (n < PEEKA_SEG_LEN_MIN || n > PEEKA_SEG_LEN_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!peeka_seg_byte_ok((uint8_t)b[i]))
            return 0;
    return 1;
}

/* Under mu: the next id for b, or SEG_LITERAL when the table is full. */
static uint16_t append(const char *b, size_t n)
{
    unsigned k = atomic_load_explicit(&count, memory_order_relaxed);
    if (!arena || k >= PEEKA_SEG_MAX || used + n > PEEKA_SEG_BYTES_MAX)
        return SEG_LITERAL;
    memcpy(arena + used, b, n);
    off[k] = (uint32_t)used;
    len[k] = (uint16_t)n;
    used += n;
    atomic_store_explicit(&count, k + 1, memory_order_release);
    return (uint16_t)k;
}

int seg_intern(seg_slot *s, const char *b, size_t n)
{
    pthread_mutex_lock(&mu);
    unsigned g = atomic_load_explicit(&g_seg_gen, memory_order_relaxed);
    s->gen = g;
    s->id = g && bytes_ok(b, n) ? append(b, n) : SEG_LITERAL;
    s->len = (uint16_t)(s->id == SEG_LITERAL ? 0 : n);
    pthread_mutex_unlock(&mu);
    return s->id != SEG_LITERAL;
}

/* What build writes, interned into s; 1 when s holds a reference. */
static int build_into(seg_slot *s, seg_builder build, const void *ctx)
{
    jsonw t;
    if (jsonw_init(&t, 256, PEEKA_SEG_LEN_MAX) < 0)
        return 0;   /* literal this time; tried again at the next record */
    build(&t, ctx);
    int rc = seg_intern(s, t.buf, t.overflow ? PEEKA_SEG_LEN_MAX + 1 : t.len);
    jsonw_free(&t);
    return rc;
}

void seg_built(jsonw *w, seg_slot *s, seg_builder build, const void *ctx)
{
    int st = seg_state(s);
    if (st < 0)
        st = build_into(s, build, ctx);
    if (st)
        seg_put(w, s);
    else
        build(w, ctx);
}

/* Under mu: a new, empty table (arena kept when there is one). */
static void start_table(void)
{
    if (!arena)
        arena = malloc(PEEKA_SEG_BYTES_MAX);   /* touched only as far as used */
    used = 0;
    sent = 0;
    atomic_store_explicit(&count, 0, memory_order_relaxed);
    if (arena && ++gen_counter == 0)
        ++gen_counter;   /* wrapped: 0 means off */
    atomic_store_explicit(&g_seg_gen, arena ? gen_counter : 0, memory_order_relaxed);
}

void seg_enable(int on)
{
    pthread_mutex_lock(&mu);
    if (!on)
        atomic_store_explicit(&g_seg_gen, 0, memory_order_relaxed);
    else if (!atomic_load_explicit(&g_seg_gen, memory_order_relaxed))
        start_table();   /* a followed child has its table already (seg_after_fork) */
    pthread_mutex_unlock(&mu);
}

void seg_after_fork(int follow)
{
    mu = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;   /* a lost thread may have held it */
    if (follow && atomic_load_explicit(&g_seg_gen, memory_order_relaxed))
        start_table();
    else
        seg_end();
}

void seg_end(void)
{   /* the agent thread, or a forked child's only thread */
    pthread_mutex_lock(&mu);
    atomic_store_explicit(&g_seg_gen, 0, memory_order_relaxed);
    free(arena);
    arena = NULL;
    used = 0;
    sent = 0;
    atomic_store_explicit(&count, 0, memory_order_relaxed);
    pthread_mutex_unlock(&mu);
}

int seg_send_new(int (*send)(uint8_t type, const void *body, size_t len))
{
    unsigned n = atomic_load_explicit(&count, memory_order_acquire);
    if (n <= sent)
        return 0;
    size_t size = 0;
    for (unsigned i = sent; i < n; i++)
        size += PEEKA_SEG_DEF_HDR + len[i];   /* at most 4096 * 4 + 1 MiB: within a frame */
    uint8_t *body = malloc(size), *p = body;
    if (!body)
        return -1;   /* the records would name undefined segments: end the session */
    for (unsigned i = sent; i < n; i++) {
        p[0] = (uint8_t)(i & 0xff);
        p[1] = (uint8_t)(i >> 8);
        p[2] = (uint8_t)(len[i] & 0xff);
        p[3] = (uint8_t)(len[i] >> 8);
        memcpy(p + PEEKA_SEG_DEF_HDR, arena + off[i], len[i]);
        p += PEEKA_SEG_DEF_HDR + len[i];
    }
    int rc = send(PF_SEGMENTS, body, size);
    free(body);
    if (rc == 0)
        sent = n;
    return rc;
}
