/*
 * testhooks — handlers that only the system tests need, linked into
 * build/llmfork-test and never into build/llmfork:
 *
 *   GET  /_test/block?s=N        blocks the loop N seconds (heartbeat kill)
 *   GET  /_test/stream?n=N&ms=M&first=F
 *                                N lines "tick i\n", one per M ms, from a
 *                                timer, the response started after F ms
 *                                (default 0); honours backpressure and close
 *   GET  /_test/crash            abort()
 *   GET  /_test/pid              the worker's pid
 *   POST /_test/echo             the request body back, with its type
 *   GET  /_test/slots?hold=1|0   takes every free scoreboard slot (1), or
 *                                gives back the ones it took (0); answers
 *                                how many: what workers of older
 *                                generations still draining do to the
 *                                master, without hundreds of processes
 *   GET  /_test/misuse?do=W      an app that breaks the response rules
 *                                (W: twice, write_after_end, end_twice,
 *                                start_twice, send_after_start,
 *                                write_before_start), all in the handler
 *
 * LLMFORK_TEST_BOOT_FAIL=msg makes startup fail with msg (exit 3 tests).
 * Each stream owns its timer and state; both are freed when it ends.
 */
#include "worker/app.h"
#include "worker/apptimer.h"

#include "common/scoreboard.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The integer value of key in a query string, or def. */
static long query_long(const char *query, const char *key, long def)
{
    size_t kl = strlen(key);
    for (const char *p = query; p && *p; p = strchr(p, '&'), p = p ? p + 1 : NULL)
        if (strncmp(p, key, kl) == 0 && p[kl] == '=')
            return strtol(p + kl + 1, NULL, 10);
    return def;
}

static void t_block(struct http_req *r, void *state)
{
    (void)state;
    long s = query_long(http_req_query(r), "s", 1);
    sleep((unsigned)(s > 0 ? s : 0));
    http_resp_send(r, 200, "text/plain", "unblocked\n", 10);
}

static void t_crash(struct http_req *r, void *state)
{
    (void)r;
    (void)state;
    abort();
}

static void t_pid(struct http_req *r, void *state)
{
    char buf[32];
    (void)state;
    int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
    http_resp_send(r, 200, "text/plain", buf, (size_t)n);
}

static void t_echo(struct http_req *r, void *state)
{
    size_t len;
    const char *body = http_req_body(r, &len);
    const char *type = http_req_header(r, "Content-Type");
    (void)state;
    http_resp_send(r, 200, type ? type : "application/octet-stream", body, len);
}

/* A slot taken here reads as a draining worker's (the master skips any
 * slot not free); pid -1 marks it ours, no worker has that pid. */
static int slot_take(struct sb_slot *s)
{
    int32_t free_state = SB_FREE;

    if (!__atomic_compare_exchange_n(&s->state, &free_state, SB_DRAINING, 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return 0;
    s->pid = -1;
    return 1;
}

static int slot_give_back(struct sb_slot *s)
{
    if (s->pid != -1 || s->state != SB_DRAINING)
        return 0;
    s->pid = 0;
    __atomic_store_n(&s->state, SB_FREE, __ATOMIC_RELEASE);
    return 1;
}

static void t_slots(struct http_req *r, void *state)
{
    struct scoreboard *sb = sb_attached();
    int hold = query_long(http_req_query(r), "hold", 1) != 0, n = 0;
    char buf[32];
    (void)state;

    for (int i = 0; sb != NULL && i < SB_SLOTS; i++)
        n += hold ? slot_take(&sb->slot[i]) : slot_give_back(&sb->slot[i]);
    int len = snprintf(buf, sizeof(buf), "%d\n", n);
    http_resp_send(r, 200, "text/plain", buf, (size_t)len);
}

/* Each case answers once correctly, then breaks a rule of http.h. */
static void t_misuse(struct http_req *r, void *state)
{
    const char *q = http_req_query(r);
    (void)state;
    if (strcmp(q, "do=twice") == 0) {
        http_resp_send(r, 200, "text/plain", "one\n", 4);
        http_resp_send(r, 200, "text/plain", "two\n", 4);
        http_resp_error(r, 500, "three");
        return;
    }
    if (strcmp(q, "do=write_before_start") == 0) {
        http_resp_write(r, "x\n", 2);
        http_resp_send(r, 200, "text/plain", "one\n", 4);
        return;
    }
    http_resp_start(r, 200, "text/plain");
    if (strcmp(q, "do=start_twice") == 0)
        http_resp_start(r, 201, "text/plain");
    http_resp_write(r, "one\n", 4);
    if (strcmp(q, "do=send_after_start") == 0) {
        http_resp_send(r, 500, "text/plain", "two\n", 4);
        return;
    }
    http_resp_end(r);
    if (strcmp(q, "do=write_after_end") == 0)
        http_resp_write(r, "two\n", 4);
    if (strcmp(q, "do=end_twice") == 0)
        http_resp_end(r);
}

struct ticker {
    struct http_req *req;
    struct app_timer *timer;
    long i, n, ms;
};

static void ticker_end(struct ticker *t)
{
    app_timer_free(t->timer);
    if (t->i == 0)
        http_resp_start(t->req, 200, "text/plain");
    http_resp_end(t->req);
    free(t);
}

static void ticker_arm(struct ticker *t, long ms)
{
    app_timer_after(t->timer, ms);
}

static void on_tick(void *arg)
{
    struct ticker *t = arg;
    char line[32];
    if (t->i == 0)
        http_resp_start(t->req, 200, "text/plain");
    int len = snprintf(line, sizeof(line), "tick %ld\n", t->i++);
    int rc = http_resp_write(t->req, line, (size_t)len);
    if (rc < 0 || t->i >= t->n) {
        ticker_end(t);
        return;
    }
    if (rc == 0)
        ticker_arm(t, t->ms); /* rc 1: wait for on_drain */
}

static void on_stream_drain(struct http_req *r, void *arg)
{
    struct ticker *t = arg;
    (void)r;
    ticker_arm(t, t->ms);
}

static void on_stream_close(struct http_req *r, void *arg)
{
    (void)r;
    ticker_end(arg);
}

static void t_stream(struct http_req *r, void *state)
{
    (void)state;
    struct ticker *t = calloc(1, sizeof(*t));
    if (t == NULL ||
        (t->timer = app_timer_new(on_tick, t)) == NULL) {
        free(t);
        http_resp_error(r, 500, "out of memory");
        return;
    }
    t->req = r;
    t->n = query_long(http_req_query(r), "n", 10);
    t->ms = query_long(http_req_query(r), "ms", 100);
    long first = query_long(http_req_query(r), "first", 0);
    if (t->ms < 0)
        t->ms = 0;
    if (t->n <= 0) {
        ticker_end(t);
        return;
    }
    http_req_on_close(r, on_stream_close, t);
    http_resp_on_drain(r, on_stream_drain, t);
    ticker_arm(t, first > 0 ? first : 0);
}

static int testhooks_startup(struct app_ctx *ctx)
{
    const char *fail = getenv("LLMFORK_TEST_BOOT_FAIL");
    if (fail != NULL) {
        app_fail(ctx, "%s", fail);
        return -1;
    }
    if (app_route(ctx, "GET", "/_test/block", t_block, NULL) < 0 ||
        app_route(ctx, "GET", "/_test/stream", t_stream, NULL) < 0 ||
        app_route(ctx, "GET", "/_test/crash", t_crash, NULL) < 0 ||
        app_route(ctx, "GET", "/_test/pid", t_pid, NULL) < 0 ||
        app_route(ctx, "POST", "/_test/echo", t_echo, NULL) < 0 ||
        app_route(ctx, "GET", "/_test/slots", t_slots, NULL) < 0 ||
        app_route(ctx, "GET", "/_test/misuse", t_misuse, NULL) < 0) {
        app_fail(ctx, "out of memory");
        return -1;
    }
    return 0;
}

const struct app testhooks_app = { "testhooks", testhooks_startup, NULL };
