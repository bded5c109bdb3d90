/*
 * failover — endpoint choice and cool-downs (see failover.h).
 */
#include "worker/model/failover.h"

#include <stdlib.h>
#include <string.h>

#include "worker/fetch/retry.h"

int failover_item(const char *item, char **url, int *weight)
{
    const char *star = strrchr(item, '*');
    size_t n = star ? (size_t)(star - item) : strlen(item);
    char *end;

    *weight = 1;
    if (star) {
        long w = strtol(star + 1, &end, 10);
        if (end == star + 1 || *end || w < 1 || w > 100)
            return -1;
        *weight = (int)w;
    }
    while (n > 0 && item[n - 1] == '/')
        n--;
    if (n == 0 || !(*url = strndup(item, n)))
        return -1;
    return 0;
}

int failover_add(struct failover *fo, char *url, int weight)
{
    if (fo->n == FAILOVER_MAX)
        return -1;
    fo->ep[fo->n++] = (struct failover_ep){ .url = url, .weight = weight };
    return 0;
}

void failover_free(struct failover *fo)
{
    for (int i = 0; i < fo->n; i++) {
        free(fo->ep[i].url);
        free(fo->ep[i].auth);
    }
    fo->n = 0;
}

int failover_pick(struct failover *fo, unsigned tried, long long now)
{
    int best = -1, total = 0;

    for (int i = 0; i < fo->n; i++) {
        struct failover_ep *e = &fo->ep[i];
        if ((tried & (1u << i)) || e->cool_until > now)
            continue;
        e->current += e->weight;
        total += e->weight;
        if (best < 0 || e->current > fo->ep[best].current)
            best = i;
    }
    if (best >= 0)
        fo->ep[best].current -= total;
    return best;
}

int failover_soonest(const struct failover *fo, long long now,
                     long long *wait_ms)
{
    int best = 0;

    for (int i = 1; i < fo->n; i++)
        if (fo->ep[i].cool_until < fo->ep[best].cool_until)
            best = i;
    *wait_ms = fo->ep[best].cool_until > now ? fo->ep[best].cool_until - now
                                             : 0;
    return best;
}

void failover_fail(struct failover *fo, int i, long long now, int status,
                   const char *retry_after_ms, const char *retry_after,
                   time_t wall_now)
{
    long ms = FAILOVER_COOL_FAIL_MS;

    if (status == 429) {
        ms = retry_after_ms_parse(retry_after_ms);
        if (ms <= 0 || ms > RETRY_AFTER_MAX_MS)
            ms = retry_after_parse(retry_after, wall_now);
        if (ms <= 0 || ms > RETRY_AFTER_MAX_MS)
            ms = FAILOVER_COOL_429_MS;
    }
    if (fo->ep[i].cool_until < now + ms)
        fo->ep[i].cool_until = now + ms;
}
