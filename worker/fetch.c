/*
 * fetch — see fetch.h.
 *
 * The multi is driven as in curl's docs/examples/multi-event.c: curl tells
 * us which sockets to watch (sock_cb) and when to call it back (timer_cb);
 * libevent calls curl_multi_socket_action; finished transfers are then
 * drained from curl_multi_info_read (check_done).
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
#include "worker/fetch.h"

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
#include "worker/retry.h"

enum state {
    S_WAITING,      /* before an attempt: first one, or a retry's wait */
    S_RUNNING,      /* the easy handle is in the multi */
    S_DONE,         /* inside on_done */
    S_CANCELLED,    /* teardown pending on the next tick */
};

/* What the transfer's event is waiting for. */
enum wake { W_NONE, W_ATTEMPT, W_TOTAL, W_FIRST_BYTE, W_IDLE };

struct fetch {
    struct fetch *prev, *next;          /* g.live, for fetch_cleanup */
    CURL *easy;
    struct curl_slist *hdrs;
    void *body;
    void (*body_free)(void *);
    const struct fetch_cbs *cbs;
    void *arg;
    struct event ev;
    int64_t start_ms;                   /* fetch_start */
    int64_t attempt_ms;                 /* this attempt's start */
    int64_t last_ms;                    /* last response byte */
    int64_t wake_ms;                    /* next attempt (S_WAITING) */
    long first_byte_ms, idle_ms, total_ms;  /* <= 0: none */
    int max_retries;
    int attempts;
    int status;
    unsigned char state;
    unsigned in_multi : 1;
    unsigned kicked : 1;                /* f->ev activated: tick pending */
    unsigned got_byte : 1;              /* this attempt got a byte */
    unsigned head_done : 1;             /* this attempt's final head is in */
    unsigned delivered : 1;             /* a callback reached the caller */
    unsigned swallow : 1;               /* this attempt will be retried */
    unsigned want_pause : 1;            /* the caller paused */
    unsigned curl_paused : 1;           /* curl holds a paused write */
};

static struct {
    CURLM *multi;
    struct event_base *base;
    struct event timer;
    struct fetch_opts opts;             /* strings owned below */
    char *ca_file;
    char *user_agent;
    struct fetch *live;
    struct fetch_stats stats;
    uint64_t rnd;
} g;

static void tick(evutil_socket_t fd, short what, void *arg);
static void finish(struct fetch *f, enum fetch_rc rc, const char *msg);

static const char *const rc_names[FETCH_RC_COUNT] = {
    [FETCH_OK] = "ok",
    [FETCH_EHTTP] = "http error",
    [FETCH_ECONNECT] = "connect error",
    [FETCH_ETIMEOUT_CONNECT] = "connect timeout",
    [FETCH_ETIMEOUT_FIRST_BYTE] = "first byte timeout",
    [FETCH_ETIMEOUT_IDLE] = "idle timeout",
    [FETCH_ETIMEOUT_TOTAL] = "total timeout",
    [FETCH_ERECV] = "response broken off",
    [FETCH_EINVAL] = "invalid request",
    [FETCH_ECANCELLED] = "cancelled",
};

const char *fetch_rc_str(enum fetch_rc rc)
{
    return (unsigned)rc < FETCH_RC_COUNT ? rc_names[rc] : "unknown";
}

static int64_t now_ms(void)
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

/* ---- the multi on the loop ---- */

static void check_done(void);

static void on_socket(evutil_socket_t fd, short what, void *arg)
{
    int action = ((what & EV_READ) ? CURL_CSELECT_IN : 0) |
                 ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    int running;

    (void)arg;
    curl_multi_socket_action(g.multi, fd, action, &running);
    check_done();
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    int running;

    (void)fd, (void)what, (void)arg;
    curl_multi_socket_action(g.multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done();
}

/* CURLMOPT_SOCKETFUNCTION: one persistent event per curl socket, kept as
 * curl's socketp. */
static int sock_cb(CURL *easy, curl_socket_t s, int what, void *userp,
                   void *socketp)
{
    struct event *ev = socketp;
    short kind = EV_PERSIST;

    (void)easy, (void)userp;
    if (what == CURL_POLL_REMOVE) {
        if (ev != NULL)
            event_free(ev);
        return 0;
    }
    if (what & CURL_POLL_IN)
        kind |= EV_READ;
    if (what & CURL_POLL_OUT)
        kind |= EV_WRITE;
    if (ev == NULL) {
        ev = event_new(g.base, s, kind, on_socket, NULL);
        if (ev == NULL || curl_multi_assign(g.multi, s, ev) != CURLM_OK) {
            if (ev != NULL)
                event_free(ev);
            return -1;
        }
    } else {
        event_del(ev);
        event_assign(ev, g.base, s, kind, on_socket, NULL);
    }
    return event_add(ev, NULL) == 0 ? 0 : -1;
}

/* CURLMOPT_TIMERFUNCTION: curl must not be called from here, only armed. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

    (void)multi, (void)userp;
    if (timeout_ms < 0)
        return evtimer_del(&g.timer);
    return evtimer_add(&g.timer, &tv);
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
    } else if (f->state == S_RUNNING && !f->got_byte && f->first_byte_ms > 0
               && f->attempt_ms + f->first_byte_ms < *at) {
        *at = f->attempt_ms + f->first_byte_ms;
        w = W_FIRST_BYTE;
    } else if (f->state == S_RUNNING && f->got_byte && !f->want_pause
               && f->idle_ms > 0 && f->last_ms + f->idle_ms < *at) {
        *at = f->last_ms + f->idle_ms;
        w = W_IDLE;
    }
    return w;
}

/* Schedules f's event for its next wake-up. Only arms: safe inside curl
 * callbacks. */
static void arm(struct fetch *f)
{
    int64_t at, ms;
    struct timeval tv;

    if (f->kicked)
        return;         /* tick() is pending and re-arms */
    if (next_wake(f, &at) == W_NONE) {
        event_del(&f->ev);
        return;
    }
    ms = at - now_ms();
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

static void detach(struct fetch *f)
{
    if (f->in_multi) {
        curl_multi_remove_handle(g.multi, f->easy);
        f->in_multi = 0;
    }
}

static void fetch_free(struct fetch *f)
{
    event_del(&f->ev);
    detach(f);
    if (f->easy != NULL)
        curl_easy_cleanup(f->easy);
    curl_slist_free_all(f->hdrs);
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
    f->attempts++;
    f->attempt_ms = f->last_ms = now_ms();
    f->got_byte = f->head_done = f->swallow = f->curl_paused = 0;
    f->status = 0;
    f->state = S_RUNNING;
    if (curl_multi_add_handle(g.multi, f->easy) != CURLM_OK) {
        finish(f, FETCH_EINVAL, "curl_multi_add_handle failed");
        return;
    }
    f->in_multi = 1;
    arm(f);
}

static void resume_curl(struct fetch *f)
{
    f->curl_paused = 0;
    /* May call on_body (and so the caller's on_data) before returning. */
    curl_easy_pause(f->easy, CURLPAUSE_CONT);
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
    if (f->state == S_RUNNING && f->curl_paused && !f->want_pause) {
        resume_curl(f);
        if (f->state != S_RUNNING || f->kicked)
            return;     /* cancelled or kicked again from on_data */
    }
    w = next_wake(f, &at);
    if (w == W_NONE || at > now_ms()) {
        arm(f);
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
        .rc = rc, .status = f->status, .attempts = f->attempts,
        .msg = msg != NULL ? msg : fetch_rc_str(rc),
    };

    detach(f);
    f->state = S_DONE;
    g.stats.done[rc]++;
    f->cbs->on_done(f, &r, f->arg);
    fetch_free(f);
}

static enum fetch_rc classify(const struct fetch *f, CURLcode code)
{
    switch (code) {
    case CURLE_OK:
        return f->status >= 400 ? FETCH_EHTTP : FETCH_OK;
    case CURLE_OPERATION_TIMEDOUT:      /* only connect timeouts are set */
        return FETCH_ETIMEOUT_CONNECT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
        return FETCH_ECONNECT;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_BAD_FUNCTION_ARGUMENT:
        return FETCH_EINVAL;
    default:
        /* sent/received but broke: before the head counts as connecting */
        return f->head_done ? FETCH_ERECV : FETCH_ECONNECT;
    }
}

/* Connection failures are retried; a certificate the caller's CA file
 * refuses will be refused again. */
static int retryable(CURLcode code, enum fetch_rc rc)
{
    if (code == CURLE_PEER_FAILED_VERIFICATION ||
        code == CURLE_SSL_CACERT_BADFILE || code == CURLE_SSL_CERTPROBLEM)
        return 0;
    return rc == FETCH_ECONNECT || rc == FETCH_ETIMEOUT_CONNECT;
}

static void retry_later(struct fetch *f, CURLcode code)
{
    const char *ms = f->head_done ? fetch_header(f, "retry-after-ms") : NULL;
    const char *s = f->head_done ? fetch_header(f, "retry-after") : NULL;
    long delay = retry_delay_ms(ms, s, f->attempts - 1, time(NULL), rnd());
    const char *url = NULL;
    char why[32];

    if (log_enabled(LOG_LVL_INFO)) {
        curl_easy_getinfo(f->easy, CURLINFO_EFFECTIVE_URL, &url);
        snprintf(why, sizeof why, "status %d", f->status);
        log_info("upstream retry %d/%d in %ld ms (%s): %s", f->attempts,
                 f->max_retries, delay,
                 code != CURLE_OK ? curl_easy_strerror(code) : why,
                 url != NULL ? url : "?");
    }
    detach(f);
    g.stats.retries++;
    f->state = S_WAITING;
    f->wake_ms = now_ms() + delay;
    arm(f);
}

static void attempt_done(struct fetch *f, CURLcode code)
{
    enum fetch_rc rc = classify(f, code);

    if (!f->delivered && f->attempts <= f->max_retries &&
        (f->swallow || (code != CURLE_OK && retryable(code, rc)))) {
        retry_later(f, code);
        return;
    }
    finish(f, rc, code != CURLE_OK ? curl_easy_strerror(code) : NULL);
}

static void check_done(void)
{
    CURLMsg *m;
    int left;
    char *priv;
    struct fetch *f;
    CURLcode code;

    while ((m = curl_multi_info_read(g.multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        code = m->data.result;
        priv = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        f = (struct fetch *)priv;
        /* a cancelled transfer is torn down by its pending tick */
        if (f != NULL && f->state == S_RUNNING)
            attempt_done(f, code);
    }
}

/* ---- curl's data callbacks: no curl_multi_* calls in here ---- */

static void deliver_head(struct fetch *f)
{
    f->delivered = 1;
    if (f->cbs->on_headers != NULL)
        f->cbs->on_headers(f, f->status, f->arg);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct fetch *f = ud;
    long status = 0;

    (void)size;
    if (f->state != S_RUNNING)
        return 0;
    f->last_ms = now_ms();
    if (!f->got_byte) {
        f->got_byte = 1;
        arm(f);         /* from the first-byte deadline to the idle one */
    }
    /* only the blank line that ends a head matters here */
    if (f->head_done || n > 2 || (p[0] != '\r' && p[0] != '\n'))
        return n;
    curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200)
        return n;       /* 100 Continue and friends */
    f->head_done = 1;
    f->status = (int)status;
    if (f->attempts <= f->max_retries &&
        retry_status(f->status, fetch_header(f, "x-should-retry"))) {
        f->swallow = 1;
        return n;
    }
    deliver_head(f);
    return f->state == S_RUNNING ? n : 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct fetch *f = ud;

    (void)size;
    if (f->state != S_RUNNING)
        return 0;
    f->last_ms = now_ms();
    if (f->swallow)
        return n;
    if (f->want_pause) {
        /* curl keeps these bytes and hands them over again on resume */
        f->curl_paused = 1;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (f->cbs->on_data != NULL)
        f->cbs->on_data(f, p, n, f->arg);
    return f->state == S_RUNNING ? n : 0;
}

/* ---- starting a transfer ---- */

static int is(const char *method, const char *name)
{
    return method != NULL && strcmp(method, name) == 0;
}

static int build_headers(struct fetch *f, const struct fetch_req *req,
                         int has_body)
{
    struct curl_slist *l;
    const char *const *h;

    /* a body must not wait a round trip for "100 Continue" */
    if (has_body) {
        if ((l = curl_slist_append(f->hdrs, "Expect:")) == NULL)
            return -1;
        f->hdrs = l;
    }
    for (h = req->headers; h != NULL && *h != NULL; h++) {
        if ((l = curl_slist_append(f->hdrs, *h)) == NULL)
            return -1;
        f->hdrs = l;
    }
    return 0;
}

#define SET(opt, val) \
    do { if (rc == CURLE_OK) rc = curl_easy_setopt(e, opt, val); } while (0)

static int setup_method(struct fetch *f, const struct fetch_req *req)
{
    CURL *e = f->easy;
    const char *m = req->method;
    int has_body = req->body_len > 0 || is(m, "POST") || is(m, "PUT") ||
                   is(m, "PATCH");
    CURLcode rc = CURLE_OK;

    if (build_headers(f, req, has_body) != 0)
        return -1;
    if (has_body) {
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        SET(CURLOPT_POSTFIELDS, f->body != NULL ? f->body : "");
    }
    if (is(m, "HEAD"))
        SET(CURLOPT_NOBODY, 1L);
    else if (m != NULL && !is(m, has_body ? "POST" : "GET"))
        SET(CURLOPT_CUSTOMREQUEST, m);
    return rc == CURLE_OK ? 0 : -1;
}

static int setup_easy(struct fetch *f, const struct fetch_req *req,
                      long connect_ms)
{
    CURL *e = f->easy;
    CURLcode rc = CURLE_OK;

    SET(CURLOPT_URL, req->url);
    SET(CURLOPT_PRIVATE, f);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TCP_NODELAY, 1L);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_BUFFERSIZE, g.opts.buffer_size);
    /* the smallest curl allows: large bodies are rare, streams many */
    SET(CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
    SET(CURLOPT_HTTP_VERSION, g.opts.http2 ? (long)CURL_HTTP_VERSION_2TLS
                                           : (long)CURL_HTTP_VERSION_1_1);
    /* h2: wait for a connection being set up rather than open another */
    SET(CURLOPT_PIPEWAIT, g.opts.http2 ? 1L : 0L);
    SET(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, f);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, f);
    if (connect_ms > 0)
        SET(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    if (g.ca_file != NULL)
        SET(CURLOPT_CAINFO, g.ca_file);
    if (g.user_agent != NULL)
        SET(CURLOPT_USERAGENT, g.user_agent);
    if (rc != CURLE_OK || setup_method(f, req) != 0)
        return -1;
    return curl_easy_setopt(e, CURLOPT_HTTPHEADER, f->hdrs) == CURLE_OK
           ? 0 : -1;
}

#undef SET

/* 0 = the worker default; FETCH_NONE (or below) = none. */
static long pick(long req, long dflt)
{
    long v = req != 0 ? req : dflt;
    return v > 0 ? v : 0;
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
    if (take_body(f, req) != 0 || (f->easy = curl_easy_init()) == NULL ||
        setup_easy(f, req, pick(req->connect_ms, g.opts.connect_ms)) != 0) {
        fetch_free(f);
        return NULL;
    }
    f->first_byte_ms = pick(req->first_byte_ms, g.opts.first_byte_ms);
    f->idle_ms = pick(req->idle_ms, g.opts.idle_ms);
    f->total_ms = pick(req->total_ms, g.opts.total_ms);
    f->max_retries = (int)pick(req->max_retries, g.opts.max_retries);
    f->start_ms = f->wake_ms = now_ms();
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
}

void fetch_resume(struct fetch *f)
{
    if (!f->want_pause)
        return;
    f->want_pause = 0;
    f->last_ms = now_ms();      /* the idle clock restarts */
    if (f->state == S_RUNNING)
        kick(f);                /* unpause curl, re-arm the idle deadline */
}

int fetch_status(const struct fetch *f)
{
    return f->status;
}

const char *fetch_header(const struct fetch *f, const char *name)
{
    struct curl_header *h;

    if (curl_easy_header(f->easy, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
        return NULL;
    return h->value;
}

const void *fetch_header_next(const struct fetch *f, const void *cursor,
                              const char **name, const char **value)
{
    struct curl_header *h = curl_easy_nextheader(
        f->easy, CURLH_HEADER, -1, (struct curl_header *)cursor);

    if (h != NULL) {
        *name = h->name;
        *value = h->value;
    }
    return h;
}

const struct fetch_stats *fetch_stats(void)
{
    return &g.stats;
}

/* ---- the worker's multi ---- */

void fetch_opts_default(struct fetch_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_connects = 256;
    o->buffer_size = 8192;
    o->connect_ms = 10000;
    o->first_byte_ms = 60000;
    o->idle_ms = 60000;
    o->total_ms = 600000;
    o->max_retries = 2;
}

static char *dup_opt(const char *s, int *err)
{
    char *d;

    if (s == NULL)
        return NULL;
    if ((d = strdup(s)) == NULL)
        *err = 1;
    return d;
}

static int setup_multi(void)
{
    CURLMcode rc = CURLM_OK;

#define MSET(opt, val) \
    do { if (rc == CURLM_OK) rc = curl_multi_setopt(g.multi, opt, val); } while (0)
    MSET(CURLMOPT_SOCKETFUNCTION, sock_cb);
    MSET(CURLMOPT_TIMERFUNCTION, timer_cb);
    MSET(CURLMOPT_MAXCONNECTS, g.opts.max_connects);
    MSET(CURLMOPT_PIPELINING,
         g.opts.http2 ? (long)CURLPIPE_MULTIPLEX : (long)CURLPIPE_NOTHING);
#undef MSET
    return rc == CURLM_OK ? 0 : -1;
}

int fetch_init(struct event_base *base, const struct fetch_opts *opts)
{
    int err = 0;

    if (g.multi != NULL)
        return -1;
    memset(&g, 0, sizeof g);
    if (opts != NULL)
        g.opts = *opts;
    else
        fetch_opts_default(&g.opts);
    if (g.opts.buffer_size <= 0)
        g.opts.buffer_size = 8192;
    g.ca_file = dup_opt(g.opts.ca_file, &err);
    g.user_agent = dup_opt(g.opts.user_agent, &err);
    g.base = base;
    g.rnd = ((uint64_t)getpid() << 32) ^ (uint64_t)now_ms() ^
            0x9e3779b97f4a7c15ULL;
    if (err || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        goto fail;
    evtimer_assign(&g.timer, base, on_timer, NULL);
    if ((g.multi = curl_multi_init()) == NULL || setup_multi() != 0) {
        if (g.multi != NULL)
            curl_multi_cleanup(g.multi);
        g.multi = NULL;
        curl_global_cleanup();
        goto fail;
    }
    return 0;
fail:
    free(g.ca_file);
    free(g.user_agent);
    return -1;
}

void fetch_cleanup(void)
{
    if (g.multi == NULL)
        return;
    while (g.live != NULL) {
        g.stats.done[FETCH_ECANCELLED]++;
        fetch_free(g.live);
    }
    curl_multi_cleanup(g.multi);
    evtimer_del(&g.timer);
    g.multi = NULL;
    free(g.ca_file);
    free(g.user_agent);
    g.ca_file = g.user_agent = NULL;
    curl_global_cleanup();
}
