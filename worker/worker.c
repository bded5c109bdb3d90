/*
 * worker — see worker.h. Signals are taken on the loop (evsignal), so
 * every handler runs as an ordinary callback: TERM drains, INT/QUIT stop at
 * once, USR1 reopens the logs. The heartbeat is a loop timer, so a loop
 * stuck in a handler stops stamping and the master kills it, while a loop
 * that serves long streams keeps stamping.
 */
#include "worker/worker.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>

#include "common/cfg.h"
#include "common/log.h"
#include "common/scoreboard.h"
#include "worker/apps.h"
#include "worker/apptimer.h"
#include "common/version.h"
#include "worker/fetch/fetch.h"
#include "worker/pg/pgpool.h"
#include "worker/server/http.h"
#include "worker/server/http_server.h"

/* Linked only into build/llmfork-test (worker/apps/testhooks.c). */
extern const struct app testhooks_app __attribute__((weak));

struct worker {
    const struct cfg *cfg;
    struct sb_slot *slot;
    struct event_base *base;
    struct http_server *http;
    struct apps *apps;
    struct http_server *mhttp; /* metrics_bind's server, or NULL */
    struct apps *mapps;        /* its routes */
    struct event *sig[4];
    struct event *heartbeat;
    struct event *deadline; /* graceful_timeout after a drain began */
    uint64_t requests;
    uint64_t max_requests; /* 0 = no limit */
    pid_t master;          /* our parent when we started */
    int draining;
    int draining_servers; /* not drained yet */
};

/* The apps every worker runs, in routing order: the first route that
 * matches wins, so static_app (every GET no other route takes) stays
 * last. A new app: its struct app (app.h), declared in apps.h, added
 * here; the Makefile compiles every .c file in worker/. */
static const struct app *const app_table[] = {
    &health_app,
    &metrics_app,
    &ragpg_app,
    &chat_app,
    &gateway_app,
    &auth_setup_app,
    &content_app,
    &testhooks_app, /* NULL outside build/llmfork-test */
    &static_app,
};
#define MAX_APPS ((int)(sizeof(app_table) / sizeof(app_table[0])))

static int app_list(const struct app **v)
{
    int n = 0;
    for (int i = 0; i < MAX_APPS; i++)
        if (app_table[i] != NULL)
            v[n++] = app_table[i];
    return n;
}

static void on_drained(void *arg)
{
    struct worker *w = arg;
    if (--w->draining_servers == 0)
        event_base_loopbreak(w->base);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    (void)fd;
    (void)what;
    log_warn("Graceful timeout: closing %d connection(s)",
             http_server_connections(w->http) + (w->mhttp ? http_server_connections(w->mhttp) : 0));
    event_base_loopbreak(w->base);
}

static void worker_drain(struct worker *w)
{
    if (w->draining)
        return;
    w->draining = 1;
    if (w->slot)
        w->slot->state = SB_DRAINING;
    struct timeval tv = { w->cfg->graceful_timeout > 0 ? w->cfg->graceful_timeout : 0, 0 };
    w->deadline = evtimer_new(w->base, on_deadline, w);
    if (w->deadline)
        evtimer_add(w->deadline, &tv);
    w->draining_servers = w->mhttp ? 2 : 1;
    http_server_drain(w->http, on_drained, w);
    if (w->mhttp)
        http_server_drain(w->mhttp, on_drained, w);
}

static void on_request(struct http_req *r, void *arg)
{
    struct worker *w = arg;
    w->requests++;
    if (w->slot)
        w->slot->requests = w->requests;
    if (w->max_requests && w->requests >= w->max_requests && !w->draining) {
        log_info("Autorestarting worker after current request.");
        worker_drain(w);
    }
    apps_handle(r, w->apps);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct worker *w = arg;
    (void)what;
    switch (sig) {
    case SIGTERM:
        worker_drain(w);
        break;
    case SIGUSR1:
        if (log_reopen() < 0)
            log_error("Cannot reopen log files");
        break;
    default: /* INT, QUIT: at once */
        event_base_loopbreak(w->base);
        break;
    }
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    (void)fd;
    (void)what;
    sb_stamp(w->slot);
    fetch_trim();
    /* A master killed with SIGKILL leaves no one to supervise us: finish
     * what we serve and go, as Gunicorn's workers do. */
    if (!w->draining && getppid() != w->master) {
        log_warn("Parent changed, shutting down: worker %d", (int)getpid());
        worker_drain(w);
    }
}

/* Dispositions inherited from the master's handlers must not run here;
 * signals meant for the master alone are ignored. */
static void signals_reset(void)
{
    static const int ignored[] = { SIGPIPE, SIGHUP, SIGUSR2, SIGWINCH,
                                   SIGTTIN, SIGTTOU };
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
        sigaction(ignored[i], &sa, NULL);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &sa, NULL);
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_UNBLOCK, &all, NULL);
}

static int worker_events(struct worker *w)
{
    static const int sigs[] = { SIGTERM, SIGINT, SIGQUIT, SIGUSR1 };
    for (int i = 0; i < 4; i++) {
        w->sig[i] = evsignal_new(w->base, sigs[i], on_signal, w);
        if (w->sig[i] == NULL || evsignal_add(w->sig[i], NULL) < 0)
            return -1;
    }
    if (w->slot == NULL)
        return 0;
    int64_t ms = w->cfg->timeout > 0 ? (int64_t)w->cfg->timeout * 250 : 1000;
    ms = ms > 1000 ? 1000 : ms;
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    w->heartbeat = event_new(w->base, -1, EV_PERSIST, on_heartbeat, w);
    return w->heartbeat ? event_add(w->heartbeat, &tv) : -1;
}

static void worker_free(struct worker *w)
{
    http_server_free(w->mhttp);
    http_server_free(w->http);
    apps_stop(w->mapps);
    apps_stop(w->apps);
    fetch_cleanup();
    for (int i = 0; i < 4; i++)
        if (w->sig[i])
            event_free(w->sig[i]);
    if (w->heartbeat)
        event_free(w->heartbeat);
    if (w->deadline)
        event_free(w->deadline);
    app_timer_loop(NULL);
    pgpool_loop(NULL);
    if (w->base)
        event_base_free(w->base);
}

static int boot_error(struct worker *w, const char *msg)
{
    log_error("Worker failed to boot: %s", msg);
    if (w->slot) {
        snprintf(w->slot->boot_error, SB_ERRLEN, "%s", msg);
    }
    return WORKER_EXIT_BOOT_ERROR;
}

/* The upstream client, with the settings' timeouts (s -> ms). */
static int start_fetch(struct worker *w)
{
    const struct cfg *c = w->cfg;
    struct fetch_opts o;

    fetch_opts_default(&o);
    o.ca_file = c->ca_file;
    o.http2 = c->http2;
    o.native_http = c->native_http;
    o.connect_ms = c->connect_timeout * 1000L;
    o.first_byte_ms = c->first_byte_timeout * 1000L;
    o.idle_ms = c->idle_timeout * 1000L;
    o.total_ms = c->total_timeout * 1000L;
    o.max_retries = c->max_retries > 0 ? c->max_retries : FETCH_NONE;
    o.user_agent = "llmfork/" LLMFORK_VERSION;
    /* A client connection has at most one upstream call at a time, so this
     * many cached connections never closes one a next request could use. */
    o.max_connects = c->worker_connections;
    o.after_io = http_flush_held;
    return fetch_init(w->base, &o);
}

static int why(char *err, size_t len, const char *msg)
{
    snprintf(err, len, "%s", msg);
    return -1;
}

/* The loop, the apps and the servers (the metrics_bind one when asked);
 * returns 0, or -1 with err set. */
static int boot_servers(struct worker *w, int metrics_port, char *err,
                        size_t len)
{
    static const struct app *const mlist[] = { &health_app, &metrics_port_app };
    const struct app *list[MAX_APPS];
    const struct cfg *c = w->cfg;

    if ((w->base = event_base_new()) == NULL)
        return why(err, len, "cannot create the event loop");
    app_timer_loop(w->base);
    pgpool_loop(w->base);
    if (start_fetch(w) < 0)
        return why(err, len, "cannot start the upstream client (libcurl)");
    if ((w->apps = apps_start(c, list, app_list(list), err, len)) == NULL)
        return -1;
    if (metrics_port && (w->mapps = apps_start(c, mlist, 2, err, len)) == NULL)
        return -1;
    w->http = http_server_new(w->base, c, w->slot, on_request, w);
    /* No slot: the slot's connection gauge is the apps' server's alone,
     * and a scrape is no request toward max_requests. */
    if (metrics_port)
        w->mhttp = http_server_new(w->base, c, NULL, apps_handle, w->mapps);
    if (w->http == NULL || (metrics_port && w->mhttp == NULL) || worker_events(w) < 0)
        return why(err, len, "out of memory");
    return 0;
}

/* Hands fds to s, which owns each from then on; with s NULL (the boot
 * failed), or once one fails, the rest are closed. Returns 0 or -1. */
static int serve_on(struct http_server *s, const int *fds, int n,
                    char *err, size_t len)
{
    for (int i = 0; i < n; i++) {
        if (s != NULL && http_server_listen(s, fds[i]) == 0)
            continue;
        if (s != NULL)
            snprintf(err, len, "cannot listen on fd %d", fds[i]);
        for (int k = s != NULL ? i + 1 : i; k < n; k++)
            close(fds[k]);
        return -1;
    }
    return 0;
}

/* Builds everything and starts accepting; returns 0 or an exit code.
 * Every fd is a server's or closed when it returns. */
static int worker_boot(struct worker *w, const int *fds, int nfds,
                       const int *mfds, int nmfds)
{
    char err[SB_ERRLEN];
    int rc = boot_servers(w, nmfds > 0, err, sizeof(err));

    if (serve_on(rc == 0 ? w->http : NULL, fds, nfds, err, sizeof(err)) < 0)
        rc = -1;
    if (serve_on(rc == 0 ? w->mhttp : NULL, mfds, nmfds, err,
                 sizeof(err)) < 0)
        rc = -1;
    return rc == 0 ? 0 : boot_error(w, err);
}

int worker_run(const struct cfg *cfg, struct sb_slot *slot,
               const int *listen_fds, int nfds,
               const int *metrics_fds, int nmetrics)
{
    struct worker w;
    memset(&w, 0, sizeof(w));
    w.cfg = cfg;
    w.slot = slot;
    w.master = getppid();
    signals_reset();
    if (slot)
        sb_stamp(slot);
    int rc = worker_boot(&w, listen_fds, nfds, metrics_fds, nmetrics);
    if (rc != 0) {
        worker_free(&w);
        return rc;
    }
    if (cfg->max_requests > 0) {
        srandom((unsigned)getpid() ^ (unsigned)time(NULL));
        w.max_requests = (uint64_t)cfg->max_requests;
        if (cfg->max_requests_jitter > 0)
            w.max_requests += (uint64_t)(random() % (cfg->max_requests_jitter + 1));
    }
    if (slot)
        slot->state = SB_READY;
    event_base_dispatch(w.base);
    log_info("Worker exiting (pid: %d)", (int)getpid());
    worker_free(&w);
    return WORKER_EXIT_OK;
}
