/*
 * failover — a set of endpoints for one model route (azure_endpoints):
 * which one the next request goes to, and which are cooling down.
 *
 * Healthy endpoints share requests by weight with nginx's smooth weighted
 * round-robin (weights 3 and 1 give a a b a a ... never a burst). An
 * endpoint that answered 429 cools down for its Retry-After (retry-after-ms
 * or retry-after within (0, 60 s]), else FAILOVER_COOL_429_MS; a 5xx or a
 * connection failure cools it down for FAILOVER_COOL_FAIL_MS. Cooling
 * endpoints get no requests while another one is available.
 *
 * How a request uses it (worker/model/model.c): it picks an endpoint it has not
 * tried yet; on a retryable failure before any byte reached the app it
 * cools that endpoint and picks again; when no untried endpoint is left it
 * may wait for the first to come back (counted against max_retries).
 *
 * Pure state, no I/O: time is passed in (ms, any monotonic origin).
 * Ownership: struct failover owns its URLs and auth lines; failover_free
 * releases them.
 */
#ifndef LLMFORK_FAILOVER_H
#define LLMFORK_FAILOVER_H

#include <time.h>

#define FAILOVER_MAX 16
#define FAILOVER_COOL_429_MS 5000
#define FAILOVER_COOL_FAIL_MS 2000

struct failover_ep {
    char *url;
    char *auth; /* its own "api-key: K" line, or NULL */
    int weight;
    int current; /* smooth weighted round-robin state */
    long long cool_until;
};

struct failover {
    int n;
    struct failover_ep ep[FAILOVER_MAX];
};

/* Splits "URL*WEIGHT" (or "URL", weight 1) into a malloc'd URL with
 * trailing slashes trimmed, and the weight. Returns -1 when malformed. */
int failover_item(const char *item, char **url, int *weight);

/* Adds an endpoint (url is taken). Returns -1 when the set is full. */
int failover_add(struct failover *fo, char *url, int weight);
void failover_free(struct failover *fo);

/* The next endpoint among those not in the tried bit mask and not cooling
 * at now, or -1 when there is none. */
int failover_pick(struct failover *fo, unsigned tried, long long now);

/* The endpoint that comes back first (ties: the lowest index), and in
 * *wait_ms how long until then (0 when it is not cooling). */
int failover_soonest(const struct failover *fo, long long now,
                     long long *wait_ms);

/* Records a failure: status 429 or >= 500, or 0 for a connection failure;
 * retry_after_ms and retry_after are the response's headers or NULL. */
void failover_fail(struct failover *fo, int i, long long now, int status,
                   const char *retry_after_ms, const char *retry_after,
                   time_t wall_now);

#endif
