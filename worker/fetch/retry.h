/*
 * retry — when to retry an upstream call and how long to wait first.
 *
 * The pure half of fetch's retry policy, mirroring the OpenAI SDKs so that
 * llmfork behaves toward Azure OpenAI / OpenAI the way their own clients do:
 * retry 408, 409, 429 and 5xx gateway-ish statuses (an `x-should-retry`
 * header, when present, overrides the status); wait `retry-after-ms`, else
 * `retry-after` (seconds or an HTTP date), else 0.5 s x 2^n with up to 25 %
 * jitter, capped at 8 s; a server wait outside (0, 60 s] is ignored in
 * favour of the computed backoff.
 *
 * No state, no allocation: strings passed in are only read.
 */
#ifndef LLMFORK_RETRY_H
#define LLMFORK_RETRY_H

#include <time.h>

#define RETRY_BASE_MS 500
#define RETRY_MAX_DELAY_MS 8000
#define RETRY_AFTER_MAX_MS 60000

/* 1 when a response with this status should be retried. should_retry is
 * the `x-should-retry` header value or NULL; "true"/"false" win over the
 * status. */
int retry_status(int status, const char *should_retry);

/* `retry-after-ms: 1500` -> 1500; NULL or malformed -> -1. */
long retry_after_ms_parse(const char *value);

/* `retry-after: 2` (seconds, fractions allowed) or an HTTP date, relative
 * to now -> milliseconds (a date in the past gives 0); NULL or malformed
 * -> -1. */
long retry_after_parse(const char *value, time_t now);

/* Backoff before retry number n (0 = the first retry); rnd in [0, 1). */
long retry_backoff_ms(int n, double rnd);

/* The whole policy: the server's wait when it is in (0, 60 s], else the
 * backoff. Header values may be NULL. */
long retry_delay_ms(const char *retry_after_ms, const char *retry_after,
                    int n, time_t now, double rnd);

#endif
