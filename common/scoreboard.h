/*
 * scoreboard — shared memory between the master and its workers.
 *
 * The master maps it (MAP_SHARED|MAP_ANONYMOUS) before forking, so every
 * worker sees the same pages. A slot belongs to one worker process for its
 * life: the master claims it before fork and releases it after reaping.
 * The worker writes only its own slot; the master reads all of them; any
 * worker may read all of them (for /metrics). Fields are updated with
 * relaxed atomics: readers want fresh-enough numbers, not a snapshot.
 *
 * Metrics: each slot carries fixed-size counters (requests by route and
 * status class, upstream calls, retries, histograms). When the master
 * reaps a worker it adds the slot's counters into `master.retired` before
 * releasing the slot, so totals (retired + live slots) never go down. The
 * master area is written by the master only.
 *
 * Ownership: the mapping is owned by the master (sb_create/sb_destroy);
 * workers inherit it and never unmap it.
 */
#ifndef LLMFORK_SCOREBOARD_H
#define LLMFORK_SCOREBOARD_H

#include <stdint.h>
#include <sys/types.h>

/* > 2x the most workers (cfg's 255): one HUP's two generations fit.
 * HUPs closer together than graceful_timeout, with streams open, can
 * still stack more; then the master starts what fits, keeps the older
 * generation serving and starts the rest as slots free (supervise.c). */
#define SB_SLOTS 512
#define SB_ERRLEN 256

enum sb_state {
    SB_FREE = 0,
    SB_STARTING, /* forked, not yet accepting */
    SB_READY,    /* accepting */
    SB_DRAINING, /* stopped accepting, finishing requests */
};

/* Routes counted by name; anything else is "other". */
enum sb_route {
    SB_R_CHAT,
    SB_R_CHAT_STREAM,
    SB_R_V1_CHAT,
    SB_R_AZURE,
    SB_R_V1_MODELS,
    SB_R_HEALTHZ,
    SB_R_READYZ,
    SB_R_METRICS,
    SB_R_OTHER,
    SB_ROUTES
};
#define SB_CLASSES 5 /* 1xx .. 5xx */
/* Upstream outcomes: transport error, then status classes, 429 apart. */
enum sb_upstream {
    SB_U_ERROR,
    SB_U_2XX,
    SB_U_3XX,
    SB_U_4XX,
    SB_U_429,
    SB_U_5XX,
    SB_UPSTREAM
};
/* Why a worker was replaced. */
enum sb_cause {
    SB_C_EXIT,
    SB_C_SIGNAL,
    SB_C_TIMEOUT,
    SB_C_MAX_REQUESTS,
    SB_CAUSES
};

#define SB_TTFT_BUCKETS 10 /* the last is +Inf */
#define SB_DUR_BUCKETS 13

struct sb_hist {
    volatile uint64_t sum_us;
    volatile uint64_t count;
    volatile uint64_t bucket[SB_DUR_BUCKETS]; /* not cumulative */
};

struct sb_counters {
    volatile uint64_t requests[SB_ROUTES][SB_CLASSES];
    volatile uint64_t upstream[SB_UPSTREAM];
    volatile uint64_t retries;
    struct sb_hist ttft;     /* first body byte of a stream */
    struct sb_hist duration; /* whole request, head read to end */
};

struct sb_slot {
    volatile int32_t state; /* enum sb_state */
    volatile int32_t pid;
    volatile int32_t number; /* worker number (1..N), kept across restarts */
    volatile int32_t generation;
    volatile int64_t started_ms;  /* CLOCK_MONOTONIC ms, set by the master */
    volatile int64_t stamp_ms;    /* heartbeat, CLOCK_MONOTONIC ms */
    volatile uint64_t requests;   /* requests served */
    volatile int64_t connections; /* open client connections */
    volatile int64_t streams;     /* responses in progress (chunked) */
    struct sb_counters m;
    char boot_error[SB_ERRLEN]; /* set by a worker that fails to boot */
};

struct sb_master {
    volatile uint64_t restarts[SB_CAUSES];
    volatile uint64_t reloads;
    volatile int32_t target;    /* workers wanted */
    struct sb_counters retired; /* reaped workers' counters */
};

struct scoreboard {
    struct sb_master master;
    struct sb_slot slot[SB_SLOTS];
};

/* Maps a zeroed scoreboard. Returns NULL on failure (errno set). */
struct scoreboard *sb_create(void);
void sb_destroy(struct scoreboard *sb);

/* Finds a free slot and marks it SB_STARTING; returns its index or -1. */
int sb_claim(struct scoreboard *sb);
/* Folds the slot's counters into master.retired and frees it. */
void sb_release(struct scoreboard *sb, int index);

/* CLOCK_MONOTONIC in milliseconds. */
int64_t sb_now_ms(void);

/* Worker side: heartbeat. */
void sb_stamp(struct sb_slot *s);

/* ---- metrics hooks (worker side) ----
 * sb_attach names this process's slot; until then (the master, unit
 * tests) the hooks do nothing. */
void sb_attach(struct scoreboard *sb, struct sb_slot *s);
struct scoreboard *sb_attached(void);
void sb_count_request(const char *path, int status, int64_t dur_us);
void sb_count_ttft(int64_t us);
/* status 0: no HTTP answer (transport error, timeout). */
void sb_count_upstream(int status);
void sb_count_retry(void);

/* ---- reading (any process) ---- */
const char *sb_route_name(int route);
enum sb_route sb_route_of(const char *path);
const char *sb_upstream_name(int u);
const char *sb_cause_name(int cause);
/* Upper bounds in microseconds of histogram buckets; -1 for +Inf. */
int sb_hist_buckets(int ttft, const int64_t **bounds);
/* Adds counters (retired + every non-free slot) into *out (zeroed first). */
void sb_totals(const struct scoreboard *sb, struct sb_counters *out);

#endif
