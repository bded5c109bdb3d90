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
#include "common/version.h"
#include "worker/fetch.h"
#include "worker/http.h"

/* Linked only into build/llmfork-test (worker/testhooks.c). */
extern const struct app testhooks_app __attribute__((weak));

#define MAX_APPS 8

struct worker {
    const struct cfg *cfg;
    struct sb_slot *slot;
    struct event_base *base;
    struct http_server *http;
    struct apps *apps;
    struct event *sig[4];
    struct event *heartbeat;
    struct event *deadline;     /* graceful_timeout after a drain began */
    uint64_t requests;
    uint64_t max_requests;      /* 0 = no limit */
    pid_t master;               /* our parent when we started */
    int draining;
};

static int app_list(const struct app **v)
{
    int n = 0;
    v[n++] = &health_app;
    v[n++] = &metrics_app;
    v[n++] = &chat_app;
    v[n++] = &gateway_app;
    if (&testhooks_app != NULL)
        v[n++] = &testhooks_app;
    v[n++] = &static_app;
    return n;
}

static void on_drained(void *arg)
{
    struct worker *w = arg;
    event_base_loopbreak(w->base);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    (void)fd;
    (void)what;
    log_warn("Graceful timeout: closing %d connection(s)",
             http_server_connections(w->http));
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
    http_server_drain(w->http, on_drained, w);
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
    default:                    /* INT, QUIT: at once */
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
    http_server_free(w->http);
    apps_stop(w->apps);
    fetch_cleanup();
    for (int i = 0; i < 4; i++)
        if (w->sig[i])
            event_free(w->sig[i]);
    if (w->heartbeat)
        event_free(w->heartbeat);
    if (w->deadline)
        event_free(w->deadline);
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
    o.connect_ms = c->connect_timeout * 1000L;
    o.first_byte_ms = c->first_byte_timeout * 1000L;
    o.idle_ms = c->idle_timeout * 1000L;
    o.total_ms = c->total_timeout * 1000L;
    o.max_retries = c->max_retries > 0 ? c->max_retries : FETCH_NONE;
    o.user_agent = "llmfork/" LLMFORK_VERSION;
    return fetch_init(w->base, &o);
}

/* Builds the loop, the apps and the server; returns 0 or an exit code. */
static int worker_boot(struct worker *w, const int *fds, int nfds)
{
    char err[SB_ERRLEN];
    const struct app *list[MAX_APPS];
    int i = 0, rc;

    if ((w->base = event_base_new()) == NULL) {
        rc = boot_error(w, "cannot create the event loop");
        goto close_fds;
    }
    if (start_fetch(w) < 0) {
        rc = boot_error(w, "cannot start the upstream client (libcurl)");
        goto close_fds;
    }
    if ((w->apps = apps_start(w->cfg, w->base, list, app_list(list), err,
                              sizeof(err))) == NULL) {
        rc = boot_error(w, err);
        goto close_fds;
    }
    w->http = http_server_new(w->base, w->cfg, w->slot, on_request, w);
    if (w->http == NULL || worker_events(w) < 0) {
        rc = boot_error(w, "out of memory");
        goto close_fds;
    }
    for (; i < nfds; i++) {
        if (http_server_listen(w->http, fds[i]) < 0) {
            snprintf(err, sizeof(err), "cannot listen on fd %d", fds[i]);
            i++;
            rc = boot_error(w, err);
            goto close_fds;
        }
    }
    return 0;
close_fds:
    for (; i < nfds; i++)
        close(fds[i]);
    return rc;
}

int worker_run(const struct cfg *cfg, struct sb_slot *slot,
               const int *listen_fds, int nfds)
{
    struct worker w;
    memset(&w, 0, sizeof(w));
    w.cfg = cfg;
    w.slot = slot;
    w.master = getppid();
    signals_reset();
    if (slot)
        sb_stamp(slot);
    int rc = worker_boot(&w, listen_fds, nfds);
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
