/*
 * scoreboard — see scoreboard.h. Only the master claims and releases
 * slots, so claiming needs no compare-and-swap; the atomics are for the
 * fields workers write while the master reads.
 */
#include "common/scoreboard.h"

#include <string.h>
#include <sys/mman.h>
#include <time.h>

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

void sb_release(struct scoreboard *sb, int index)
{
    if (index < 0 || index >= SB_SLOTS)
        return;
    struct sb_slot *s = &sb->slot[index];
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
