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
 * Ownership: the mapping is owned by the master (sb_create/sb_destroy);
 * workers inherit it and never unmap it.
 */
#ifndef LLMFORK_SCOREBOARD_H
#define LLMFORK_SCOREBOARD_H

#include <stdint.h>
#include <sys/types.h>

#define SB_SLOTS 512            /* > 2x the most workers: HUP overlaps gens */
#define SB_ERRLEN 256

enum sb_state {
    SB_FREE = 0,
    SB_STARTING,                /* forked, not yet accepting */
    SB_READY,                   /* accepting */
    SB_DRAINING,                /* stopped accepting, finishing requests */
};

struct sb_slot {
    volatile int32_t state;     /* enum sb_state */
    volatile int32_t pid;
    volatile int32_t number;    /* worker number (1..N), kept across restarts */
    volatile int32_t generation;
    volatile int64_t started_ms;   /* CLOCK_MONOTONIC ms, set by the master */
    volatile int64_t stamp_ms;     /* heartbeat, CLOCK_MONOTONIC ms */
    volatile uint64_t requests;    /* requests served */
    volatile int64_t connections;  /* open client connections */
    volatile int64_t streams;      /* responses in progress (chunked) */
    char boot_error[SB_ERRLEN];    /* set by a worker that fails to boot */
};

struct scoreboard {
    struct sb_slot slot[SB_SLOTS];
};

/* Maps a zeroed scoreboard. Returns NULL on failure (errno set). */
struct scoreboard *sb_create(void);
void sb_destroy(struct scoreboard *sb);

/* Finds a free slot and marks it SB_STARTING; returns its index or -1. */
int sb_claim(struct scoreboard *sb);
void sb_release(struct scoreboard *sb, int index);

/* CLOCK_MONOTONIC in milliseconds. */
int64_t sb_now_ms(void);

/* Worker side: heartbeat. */
void sb_stamp(struct sb_slot *s);

#endif
