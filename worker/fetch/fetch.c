/*
 * fetch — see fetch.h. This file is the life of a transfer; it runs on
 * one of two transports, through the table fetch_int.h defines: libcurl
 * (fetch_easy.c: the easy handle's options and callbacks, curl's results;
 * the multi runs on the loop through evcurl.c) or fetch's own HTTP/1.1
 * client (fetch_h1.c over h1/).
 *
 * Each transfer has one struct event, f->ev, that does all its own
 * scheduling: its deadlines (first byte, idle, total), the wait before a
 * retry, and work that must not run inside a curl callback (starting the
 * first attempt, unpausing, and teardown after fetch_cancel). tick() runs
 * it from the loop, where calling into curl is allowed.
 *
 * Timers are lazy: a body piece only stamps f->last_ms; the event fires at
 * the earliest deadline that was known when it was armed and tick() then
 * re-arms for the real one. Streams cost one timer operation per deadline
 * period, not one per chunk.
 */
#include "worker/fetch/fetch.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "common/log.h"
#include "common/scoreboard.h"
#include "worker/fetch/evcurl.h"
#include "worker/fetch/fetch_easy.h"
#include "worker/fetch/fetch_int.h"
#include "worker/fetch/h1/h1.h"
#include "worker/fetch/h1/h1_addr.h"
#include "worker/fetch/retry.h"

static struct {
    struct evcurl *ec;
    CURLM *multi; /* ec's */
    struct event_base *base;
    struct fetch_opts opts; /* its strings are our copies */
    struct fetch *live;
    struct fetch_stats stats;
    uint64_t rnd;
} g;

static void tick(evutil_socket_t fd, short what, void *arg);
static void finish(struct fetch *f, enum fetch_rc rc, const char *msg);

int64_t fetch__now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* xorshift64*: jitter only, no need for more. Returns [0, 1). */
static double rnd(void)
{
    g.rnd ^= g.rnd >> 12;
    g.rnd ^= g.rnd << 25;
    g.rnd ^= g.rnd >> 27;
    return (double)((g.rnd * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* ---- per-transfer scheduling ---- */

/* The earliest thing f's event must wake up for, and when. */
static enum wake next_wake(const struct fetch *f, int64_t *at)
{
    enum wake w = W_NONE;

    *at = INT64_MAX;
    if (f->total_ms > 0) {
        *at = f->start_ms + f->total_ms;
        w = W_TOTAL;
    }
    if (f->state == S_WAITING && f->wake_ms < *at) {
        *at = f->wake_ms;
        w = W_ATTEMPT;
    } else if (f->state == S_RUNNING && !f->got_byte && f->first_byte_ms > 0 && f->attempt_ms + f->first_byte_ms < *at) {
        *at = f->attempt_ms + f->first_byte_ms;
        w = W_FIRST_BYTE;
    } else if (f->state == S_RUNNING && f->got_byte && !f->want_pause && f->idle_ms > 0 && f->last_ms + f->idle_ms < *at) {
        *at = f->last_ms + f->idle_ms;
        w = W_IDLE;
    }
    return w;
}

/* Schedules f's event for its next wake-up. Only arms: safe inside curl
 * callbacks. */
void fetch__arm(struct fetch *f)
{
    int64_t at, ms;
    struct timeval tv;

    if (f->kicked)
        return; /* tick() is pending and re-arms */
    if (next_wake(f, &at) == W_NONE) {
        event_del(&f->ev);
        return;
    }
    ms = at - fetch__now_ms();
    if (ms < 0)
        ms = 0;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    event_add(&f->ev, &tv);
}

/* Runs tick() on the next loop turn, outside any curl callback. */
static void kick(struct fetch *f)
{
    if (f->kicked)
        return;
    f->kicked = 1;
    event_active(&f->ev, EV_READ, 0);
}

CURLM *fetch__multi(void)
{
    return g.multi;
}

static void detach(struct fetch *f)
{
    if (f->tr != NULL)
        f->tr->stop(f);
}

static void fetch_free(struct fetch *f)
{
    event_del(&f->ev);
    detach(f);
    if (f->tr != NULL)
        f->tr->release(f);
    if (f->body_free != NULL)
        f->body_free(f->body);
    if (f->prev != NULL)
        f->prev->next = f->next;
    else
        g.live = f->next;
    if (f->next != NULL)
        f->next->prev = f->prev;
    g.stats.active--;
    free(f);
}

static void begin_attempt(struct fetch *f)
{
    const char *why = NULL;

    f->attempts++;
    f->attempt_ms = f->last_ms = fetch__now_ms();
    f->got_byte = f->head_done = f->swallow = f->tr_paused = 0;
    f->status = 0;
    f->state = S_RUNNING;
    if (f->tr->begin(f, &why) != 0)
        finish(f, FETCH_EINVAL, why);
    else
        fetch__arm(f);
}

/* May call the caller's on_data before returning. */
static void resume_transport(struct fetch *f)
{
    f->tr_paused = 0;
    f->tr->resume(f);
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
    struct fetch *f = arg;
    enum wake w;
    int64_t at;

    (void)fd, (void)what;
    f->kicked = 0;
    if (f->state == S_CANCELLED) {
        g.stats.done[FETCH_ECANCELLED]++;
        fetch_free(f);
        return;
    }
    if (f->state == S_RUNNING && f->tr_paused && !f->want_pause) {
        resume_transport(f);
        if (f->state != S_RUNNING || f->kicked)
            return; /* cancelled or kicked again from on_data */
    }
    w = next_wake(f, &at);
    if (w == W_NONE || at > fetch__now_ms()) {
        fetch__arm(f);
        return;
    }
    switch (w) {
    case W_ATTEMPT:
        begin_attempt(f);
        break;
    case W_TOTAL:
        finish(f, FETCH_ETIMEOUT_TOTAL, NULL);
        break;
    case W_FIRST_BYTE:
        finish(f, FETCH_ETIMEOUT_FIRST_BYTE, NULL);
        break;
    default:
        finish(f, FETCH_ETIMEOUT_IDLE, NULL);
        break;
    }
}

/* ---- ending an attempt ---- */

/* Removes f from the multi, reports to the caller, frees f. Never inside
 * a curl callback. */
static void finish(struct fetch *f, enum fetch_rc rc, const char *msg)
{
    struct fetch_result r = {
        .rc = rc,
        .status = f->status,
        .attempts = f->attempts,
        .msg = msg != NULL ? msg : fetch_rc_str(rc),
    };

    detach(f);
    f->state = S_DONE;
    g.stats.done[rc]++;
    f->cbs->on_done(f, &r, f->arg);
    fetch_free(f);
}

static void retry_later(struct fetch *f, const char *msg)
{
    const char *ms = f->head_done ? fetch_header(f, "retry-after-ms") : NULL;
    const char *s = f->head_done ? fetch_header(f, "retry-after") : NULL;
    long delay = retry_delay_ms(ms, s, f->attempts - 1, time(NULL), rnd());
    const char *url;
    char why[32], ubuf[256];

    if (log_enabled(LOG_LVL_INFO)) {
        url = f->tr->url(f, ubuf, sizeof ubuf);
        snprintf(why, sizeof why, "status %d", f->status);
        log_info("upstream retry %d/%d in %ld ms (%s): %s", f->attempts,
                 f->max_retries, delay, msg != NULL ? msg : why,
                 url != NULL ? url : "?");
    }
    detach(f);
    g.stats.retries++;
    sb_count_retry();
    f->state = S_WAITING;
    f->wake_ms = fetch__now_ms() + delay;
    fetch__arm(f);
}

void fetch__attempt_end(struct fetch *f, enum fetch_rc rc, int retryable,
                        const char *msg)
{
    sb_count_upstream(f->head_done ? f->status : 0);

    if (!f->delivered && f->attempts <= f->max_retries &&
        (f->swallow || retryable)) {
        retry_later(f, msg);
        return;
    }
    finish(f, rc, msg);
}

/* ---- for the transports' callbacks: no curl_multi_* calls in here ---- */

void fetch__got_byte(struct fetch *f)
{
    f->last_ms = fetch__now_ms();
    if (!f->got_byte) {
        f->got_byte = 1;
        fetch__arm(f); /* from the first-byte deadline to the idle one */
    }
}

int fetch__head_in(struct fetch *f, int status)
{
    f->head_done = 1;
    f->status = status;
    if (f->attempts <= f->max_retries &&
        retry_status(f->status, fetch_header(f, "x-should-retry"))) {
        f->swallow = 1;
        return 0;
    }
    f->delivered = 1;
    /* nothing is retried now: the request's head, and its body once
     * sent, would only weigh on a stream that may run for minutes */
    f->tr->drop_request(f);
    if (f->cbs->on_headers != NULL)
        f->cbs->on_headers(f, f->status, f->arg);
    return f->state == S_RUNNING ? 0 : -1;
}

/* ---- starting a transfer ---- */

/* fetch's own client for what it serves (h1.h), else a curl handle. */
static int start_transport(struct fetch *f, const struct fetch_req *req)
{
    int r = g.opts.native_http && !fetch_easy_env_proxy() ? fetch__h1_setup(f, req, g.opts.user_agent) : 1;

    return r <= 0 ? r : fetch__easy_attach(f, req, &g.opts);
}

static int take_body(struct fetch *f, const struct fetch_req *req)
{
    if (req->body_free != NULL) {
        f->body = (void *)req->body;
        f->body_free = req->body_free;
    } else if (req->body != NULL && req->body_len > 0) {
        if ((f->body = malloc(req->body_len)) == NULL)
            return -1;
        memcpy(f->body, req->body, req->body_len);
        f->body_free = free;
    }
    return 0;
}

static struct fetch *fetch_new(const struct fetch_cbs *cbs, void *arg)
{
    struct fetch *f = calloc(1, sizeof *f);

    if (f == NULL)
        return NULL;
    f->cbs = cbs;
    f->arg = arg;
    event_assign(&f->ev, g.base, -1, 0, tick, f);
    f->next = g.live;
    if (g.live != NULL)
        g.live->prev = f;
    g.live = f;
    g.stats.active++;
    return f;
}

struct fetch *fetch_start(const struct fetch_req *req,
                          const struct fetch_cbs *cbs, void *arg)
{
    struct fetch *f = NULL;

    if (req == NULL)
        return NULL;
    if (g.multi != NULL && req->url != NULL && cbs != NULL &&
        cbs->on_done != NULL)
        f = fetch_new(cbs, arg);
    if (f == NULL) {
        if (req->body_free != NULL)
            req->body_free((void *)req->body);
        return NULL;
    }
    /* from here on fetch_free releases the body */
    if (take_body(f, req) != 0 || start_transport(f, req) != 0) {
        fetch_free(f);
        return NULL;
    }
    f->first_byte_ms = fetch_easy_pick(req->first_byte_ms,
                                       g.opts.first_byte_ms);
    f->idle_ms = fetch_easy_pick(req->idle_ms, g.opts.idle_ms);
    f->total_ms = fetch_easy_pick(req->total_ms, g.opts.total_ms);
    f->max_retries = (int)fetch_easy_pick(req->max_retries,
                                          g.opts.max_retries);
    f->connect_ms = fetch_easy_pick(req->connect_ms, g.opts.connect_ms);
    f->start_ms = f->wake_ms = fetch__now_ms();
    f->state = S_WAITING;
    g.stats.started++;
    kick(f);
    return f;
}

/* ---- the caller's controls ---- */

void fetch_cancel(struct fetch *f)
{
    if (f == NULL || f->state == S_DONE || f->state == S_CANCELLED)
        return;
    f->state = S_CANCELLED;
    kick(f);
}

void fetch_pause(struct fetch *f)
{
    f->want_pause = 1;
    f->tr->pause(f);
}

void fetch_resume(struct fetch *f)
{
    if (!f->want_pause)
        return;
    f->want_pause = 0;
    f->last_ms = fetch__now_ms(); /* the idle clock restarts */
    if (f->state == S_RUNNING)
        kick(f); /* unpause curl, re-arm the idle deadline */
}

int fetch_status(const struct fetch *f)
{
    return f->status;
}

const char *fetch_header(const struct fetch *f, const char *name)
{
    return f->tr->header(f, name);
}

const void *fetch_header_next(const struct fetch *f, const void *cursor,
                              const char **name, const char **value)
{
    return f->tr->header_next(f, cursor, name, value);
}

const struct fetch_stats *fetch_stats(void)
{
    return &g.stats;
}

void fetch_trim(void)
{
    fetch_easy_trim();
    h1_addr_trim();
}

/* ---- the worker's multi ---- */

int fetch_init(struct event_base *base, const struct fetch_opts *opts)
{
    if (g.multi != NULL)
        return -1;
    memset(&g, 0, sizeof g);
    g.base = base;
    g.rnd = ((uint64_t)getpid() << 32) ^ (uint64_t)fetch__now_ms() ^
            0x9e3779b97f4a7c15ULL;
    if (fetch_opts_copy(&g.opts, opts) != 0 ||
        curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        goto fail;
    if ((g.ec = evcurl_new(base, fetch__easy_done)) == NULL)
        goto fail_curl;
    g.multi = evcurl_multi(g.ec);
    if (g.opts.after_io != NULL)
        evcurl_on_after(g.ec, g.opts.after_io, g.opts.after_io_arg);
    h1_init(base, g.opts.after_io, g.opts.after_io_arg);
    if ((g.opts.max_connects > 0 &&
         curl_multi_setopt(g.multi, CURLMOPT_MAXCONNECTS,
                           g.opts.max_connects) != CURLM_OK) ||
        curl_multi_setopt(g.multi, CURLMOPT_PIPELINING,
                          g.opts.http2 ? (long)CURLPIPE_MULTIPLEX
                                       : (long)CURLPIPE_NOTHING) != CURLM_OK) {
        evcurl_free(g.ec);
        g.multi = NULL;
        goto fail_curl;
    }
    return 0;
fail_curl:
    curl_global_cleanup();
fail:
    fetch_opts_free(&g.opts);
    return -1;
}

void fetch_cleanup(void)
{
    if (g.multi == NULL)
        return;
    while (g.live != NULL) {
        g.stats.done[FETCH_ECANCELLED]++;
        /* The head's prev is NULL, so fetch_free moves g.live on; the
         * analyzer does not know that invariant. */
        fetch_free(g.live); // NOLINT(clang-analyzer-unix.Malloc)
    }
    fetch_easy_drain();
    h1_addr_cleanup();
    evcurl_free(g.ec);
    g.multi = NULL;
    fetch_opts_free(&g.opts);
    curl_global_cleanup();
}
