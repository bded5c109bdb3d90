/*
 * scoreboard — see scoreboard.h. Only the master claims and releases
 * slots, so claiming needs no compare-and-swap; the atomics are for the
 * fields workers write while the master reads. Each counter has a single
 * writer, so a relaxed add is enough.
 */
#include "common/scoreboard.h"

#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define ADD(field, n) __atomic_fetch_add(&(field), (n), __ATOMIC_RELAXED)
#define GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

static struct scoreboard *attached_sb;
static struct sb_slot *mine;

static const char *const route_names[SB_ROUTES] = {
    "/chat",
    "/chat/stream",
    "/v1/chat/completions",
    "/openai/deployments",
    "/v1/models",
    "/healthz",
    "/readyz",
    "/metrics",
    "other",
};
static const char *const upstream_names[SB_UPSTREAM] = {
    "error",
    "2xx",
    "3xx",
    "4xx",
    "429",
    "5xx",
};
static const char *const cause_names[SB_CAUSES] = {
    "exit",
    "signal",
    "timeout",
    "max_requests",
};
/* Tokens take a while to come; whole streams take longer. */
static const int64_t ttft_bounds[SB_TTFT_BUCKETS] = {
    50000,
    100000,
    250000,
    500000,
    1000000,
    2000000,
    5000000,
    10000000,
    30000000,
    -1,
};
static const int64_t dur_bounds[SB_DUR_BUCKETS] = {
    5000,
    25000,
    100000,
    250000,
    500000,
    1000000,
    2500000,
    5000000,
    10000000,
    30000000,
    60000000,
    120000000,
    -1,
};

struct scoreboard *sb_create(void)
{
    void *p = mmap(NULL, sizeof(struct scoreboard), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void sb_destroy(struct scoreboard *sb)
{
    if (sb != NULL)
        munmap(sb, sizeof(*sb));
}

int sb_claim(struct scoreboard *sb)
{
    for (int i = 0; i < SB_SLOTS; i++) {
        struct sb_slot *s = &sb->slot[i];
        if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != SB_FREE)
            continue;
        memset((void *)s, 0, sizeof(*s));
        __atomic_store_n(&s->state, SB_STARTING, __ATOMIC_RELEASE);
        return i;
    }
    return -1;
}

static void hist_add(struct sb_hist *to, const struct sb_hist *from)
{
    ADD(to->sum_us, GET(from->sum_us));
    ADD(to->count, GET(from->count));
    for (int b = 0; b < SB_DUR_BUCKETS; b++)
        ADD(to->bucket[b], GET(from->bucket[b]));
}

static void counters_add(struct sb_counters *to, const struct sb_counters *from)
{
    for (int r = 0; r < SB_ROUTES; r++)
        for (int c = 0; c < SB_CLASSES; c++)
            ADD(to->requests[r][c], GET(from->requests[r][c]));
    for (int u = 0; u < SB_UPSTREAM; u++)
        ADD(to->upstream[u], GET(from->upstream[u]));
    ADD(to->retries, GET(from->retries));
    hist_add(&to->ttft, &from->ttft);
    hist_add(&to->duration, &from->duration);
}

void sb_release(struct scoreboard *sb, int index)
{
    if (index < 0 || index >= SB_SLOTS)
        return;
    struct sb_slot *s = &sb->slot[index];
    counters_add(&sb->master.retired, &s->m);
    __atomic_store_n(&s->state, SB_FREE, __ATOMIC_RELEASE);
}

int64_t sb_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sb_stamp(struct sb_slot *s)
{
    __atomic_store_n(&s->stamp_ms, sb_now_ms(), __ATOMIC_RELAXED);
}

/* ---- metrics hooks ---- */

void sb_attach(struct scoreboard *sb, struct sb_slot *s)
{
    attached_sb = sb;
    mine = s;
}

struct scoreboard *sb_attached(void)
{
    return attached_sb;
}

enum sb_route sb_route_of(const char *path)
{
    static const char azure[] = "/openai/deployments/";

    if (strncmp(path, azure, sizeof(azure) - 1) == 0)
        return SB_R_AZURE;
    for (int r = 0; r < SB_R_OTHER; r++)
        if (r != SB_R_AZURE && strcmp(path, route_names[r]) == 0)
            return (enum sb_route)r;
    return SB_R_OTHER;
}

static void hist_observe(struct sb_hist *h, const int64_t *bounds, int n,
                         int64_t us)
{
    int b = 0;

    if (us < 0)
        us = 0;
    while (b < n - 1 && us > bounds[b])
        b++;
    ADD(h->bucket[b], 1);
    ADD(h->sum_us, (uint64_t)us);
    ADD(h->count, 1);
}

void sb_count_request(const char *path, int status, int64_t dur_us)
{
    if (mine == NULL)
        return;
    int c = status / 100 - 1;
    if (c < 0 || c >= SB_CLASSES)
        c = SB_CLASSES - 1; /* a status we never send: count as 5xx */
    ADD(mine->m.requests[sb_route_of(path)][c], 1);
    hist_observe(&mine->m.duration, dur_bounds, SB_DUR_BUCKETS, dur_us);
}

void sb_count_ttft(int64_t us)
{
    if (mine != NULL)
        hist_observe(&mine->m.ttft, ttft_bounds, SB_TTFT_BUCKETS, us);
}

void sb_count_upstream(int status)
{
    enum sb_upstream u = status == 429   ? SB_U_429
                         : status >= 500 ? SB_U_5XX
                         : status >= 400 ? SB_U_4XX
                         : status >= 300 ? SB_U_3XX
                         : status >= 200 ? SB_U_2XX
                                         : SB_U_ERROR;
    if (mine != NULL)
        ADD(mine->m.upstream[u], 1);
}

void sb_count_retry(void)
{
    if (mine != NULL)
        ADD(mine->m.retries, 1);
}

/* ---- reading ---- */

const char *sb_route_name(int route)
{
    return route >= 0 && route < SB_ROUTES ? route_names[route] : "?";
}

const char *sb_upstream_name(int u)
{
    return u >= 0 && u < SB_UPSTREAM ? upstream_names[u] : "?";
}

const char *sb_cause_name(int cause)
{
    return cause >= 0 && cause < SB_CAUSES ? cause_names[cause] : "?";
}

int sb_hist_buckets(int ttft, const int64_t **bounds)
{
    *bounds = ttft ? ttft_bounds : dur_bounds;
    return ttft ? SB_TTFT_BUCKETS : SB_DUR_BUCKETS;
}

void sb_totals(const struct scoreboard *sb, struct sb_counters *out)
{
    memset(out, 0, sizeof(*out));
    counters_add(out, &sb->master.retired);
    for (int i = 0; i < SB_SLOTS; i++)
        if (GET(sb->slot[i].state) != SB_FREE)
            counters_add(out, &sb->slot[i].m);
}
