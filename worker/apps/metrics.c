/*
 * metrics — the /metrics app (Prometheus text format 0.0.4) and /readyz.
 *
 * Any worker answers for all: totals come from the shared scoreboard
 * (reaped workers' counters plus every live slot's), per-worker gauges
 * from the live slots. Numbers are read with relaxed loads: fresh enough,
 * not a snapshot.
 *
 * /readyz: 200 with the provider and the workers accepting while any
 * worker accepts; else 503 with the reason.
 *
 * metrics_app serves the apps' listeners: /metrics there is a 404 when
 * metrics_bind is set. metrics_port_app serves the metrics_bind listeners.
 */
#include "worker/apps.h"

#include <inttypes.h>
#include <stdio.h>

#include "common/cfg.h"
#include "common/scoreboard.h"
#include "common/str.h"

#define GET(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

static const char *const state_names[] = {
    "free",
    "starting",
    "ready",
    "draining",
};

static void family(struct str_buf *b, const char *name, const char *type,
                   const char *help)
{
    str_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                   type);
}

static void requests(struct str_buf *b, const struct sb_counters *t)
{
    family(b, "llmfork_requests_total", "counter",
           "Requests answered, by route and status class.");
    for (int r = 0; r < SB_ROUTES; r++)
        for (int c = 0; c < SB_CLASSES; c++)
            if (t->requests[r][c] > 0)
                str_buf_printf(b, "llmfork_requests_total{route=\"%s\","
                                  "code=\"%dxx\"} %" PRIu64 "\n",
                               sb_route_name(r), c + 1,
                               t->requests[r][c]);
    family(b, "llmfork_upstream_requests_total", "counter",
           "Upstream (model) attempts, by outcome.");
    for (int u = 0; u < SB_UPSTREAM; u++)
        str_buf_printf(b, "llmfork_upstream_requests_total{status=\"%s\"}"
                          " %" PRIu64 "\n",
                       sb_upstream_name(u),
                       t->upstream[u]);
    family(b, "llmfork_upstream_retries_total", "counter",
           "Upstream attempts retried.");
    str_buf_printf(b, "llmfork_upstream_retries_total %" PRIu64 "\n",
                   t->retries);
}

static void histogram(struct str_buf *b, const char *name, const char *help,
                      const struct sb_hist *h, int ttft)
{
    const int64_t *bounds;
    int n = sb_hist_buckets(ttft, &bounds);
    uint64_t cum = 0;

    family(b, name, "histogram", help);
    for (int i = 0; i < n; i++) {
        cum += h->bucket[i];
        if (bounds[i] < 0)
            str_buf_printf(b, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n",
                           name, cum);
        else
            str_buf_printf(b, "%s_bucket{le=\"%g\"} %" PRIu64 "\n",
                           name, bounds[i] / 1e6, cum);
    }
    str_buf_printf(b, "%s_sum %.6f\n%s_count %" PRIu64 "\n", name,
                   h->sum_us / 1e6, name, cum);
}

static void master(struct str_buf *b, const struct sb_master *m)
{
    family(b, "llmfork_worker_restarts_total", "counter",
           "Workers replaced, by cause.");
    for (int c = 0; c < SB_CAUSES; c++)
        str_buf_printf(b, "llmfork_worker_restarts_total{cause=\"%s\"} "
                          "%" PRIu64 "\n",
                       sb_cause_name(c),
                       GET(m->restarts[c]));
    family(b, "llmfork_reloads_total", "counter",
           "Configuration reloads (HUP) applied.");
    str_buf_printf(b, "llmfork_reloads_total %" PRIu64 "\n",
                   GET(m->reloads));
    family(b, "llmfork_workers_wanted", "gauge", "Workers the master keeps.");
    str_buf_printf(b, "llmfork_workers_wanted %d\n", (int)GET(m->target));
}

/* One gauge family over the live slots; field picks the value. */
static void per_worker(struct str_buf *b, const struct scoreboard *sb,
                       const char *name, const char *type, const char *help,
                       int64_t (*field)(const struct sb_slot *))
{
    family(b, name, type, help);
    for (int i = 0; i < SB_SLOTS; i++) {
        const struct sb_slot *s = &sb->slot[i];
        int st = GET(s->state);
        if (st == SB_FREE)
            continue;
        str_buf_printf(b, "%s{worker=\"%d\",pid=\"%d\",state=\"%s\"} "
                          "%" PRId64 "\n",
                       name, (int)GET(s->number),
                       (int)GET(s->pid), state_names[st & 3], field(s));
    }
}

static int64_t f_conns(const struct sb_slot *s)
{
    return GET(s->connections);
}
static int64_t f_streams(const struct sb_slot *s)
{
    return GET(s->streams);
}
static int64_t f_reqs(const struct sb_slot *s)
{
    return (int64_t)GET(s->requests);
}

static void gauges(struct str_buf *b, const struct scoreboard *sb)
{
    int64_t conns = 0, streams = 0;
    int up = 0;

    for (int i = 0; i < SB_SLOTS; i++) {
        const struct sb_slot *s = &sb->slot[i];
        int st = GET(s->state);
        if (st == SB_FREE)
            continue;
        up += st == SB_READY;
        conns += GET(s->connections);
        streams += GET(s->streams);
    }
    family(b, "llmfork_workers_ready", "gauge", "Workers accepting.");
    str_buf_printf(b, "llmfork_workers_ready %d\n", up);
    family(b, "llmfork_connections", "gauge", "Open client connections.");
    str_buf_printf(b, "llmfork_connections %" PRId64 "\n", conns);
    family(b, "llmfork_streams", "gauge", "Streamed responses in progress.");
    str_buf_printf(b, "llmfork_streams %" PRId64 "\n", streams);
    per_worker(b, sb, "llmfork_worker_connections", "gauge",
               "Open client connections of one worker.", f_conns);
    per_worker(b, sb, "llmfork_worker_streams", "gauge",
               "Streams in progress in one worker.", f_streams);
    per_worker(b, sb, "llmfork_worker_requests", "gauge",
               "Requests served by one worker since it started.", f_reqs);
}

static void metrics(struct http_req *r, void *state)
{
    const struct scoreboard *sb = sb_attached();
    struct sb_counters t;
    struct str_buf buf = { 0 }, *b = &buf;
    (void)state;

    if (sb == NULL) {
        http_resp_error(r, 503, "no scoreboard");
        return;
    }
    sb_totals(sb, &t);
    requests(b, &t);
    histogram(b, "llmfork_time_to_first_token_seconds",
              "Time from a request to the first byte of its stream.",
              &t.ttft, 1);
    histogram(b, "llmfork_request_duration_seconds",
              "Time from a request's head to the end of its response.",
              &t.duration, 0);
    gauges(b, sb);
    master(b, &sb->master);
    if (b->oom)
        http_resp_error(r, 503, "out of memory");
    else
        http_resp_send(r, 200, "text/plain; version=0.0.4; charset=utf-8",
                       b->p, b->len);
    str_buf_free(b);
}

/* A provider that is not configured stops the worker from booting (the
 * chat app checks it), so a worker that answers has one; what is left to
 * know is whether the workers are up. */
static void readyz(struct http_req *r, void *state)
{
    const struct scoreboard *sb = sb_attached();
    const struct cfg *cfg = state;
    char body[160];
    int up = 0, want = 0;

    if (sb != NULL) {
        for (int i = 0; i < SB_SLOTS; i++)
            up += GET(sb->slot[i].state) == SB_READY;
        want = (int)GET(sb->master.target);
    }
    if (sb != NULL && up == 0) {
        http_resp_error(r, 503, "no worker is accepting");
        return;
    }
    int n = snprintf(body, sizeof(body), "{\"status\":\"ready\",\"provider\":"
                                         "\"%s\",\"workers\":%d,\"workers_wanted\":%d}",
                     cfg->provider, up, want);
    http_resp_send(r, 200, "application/json", body, (size_t)n);
}

/* With metrics_bind set the scrape is not for the public listeners. */
static void not_here(struct http_req *r, void *state)
{
    (void)state;
    http_resp_error(r, 404, "not found");
}

/* here: this server answers /metrics; else every method gets a 404. */
static int routes(struct app_ctx *ctx, int here)
{
    if (app_route(ctx, here ? "GET" : "*", "/metrics",
                  here ? metrics : not_here, NULL) < 0)
        return -1;
    return app_route(ctx, "GET", "/readyz", readyz, (void *)app_cfg(ctx));
}

static int metrics_startup(struct app_ctx *ctx)
{
    return routes(ctx, app_cfg(ctx)->metrics_bind.n == 0);
}

static int metrics_port_startup(struct app_ctx *ctx)
{
    return routes(ctx, 1);
}

const struct app metrics_app = { "metrics", metrics_startup, NULL };
const struct app metrics_port_app = { "metrics_bind", metrics_port_startup, NULL };
