/*
 * http — the server: listeners, accepting (with the connection cap and
 * the EMFILE back-off), drain, teardown. Connections are in http_conn.c,
 * the request and response API in http_req.c, parsing in http_parse.c.
 */
#include "worker/server/http_int.h"
#include "worker/server/http_server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/listener.h>

#include "common/cfg.h"
#include "common/log.h"

#define ACCEPT_RETRY_MS 250

/* At the connection cap: a short answer written straight to the socket. */
static void refuse(int fd)
{
    static const char msg[] =
        "HTTP/1.1 503 Service Unavailable\r\nServer: llmfork\r\n"
        "Content-Type: application/json\r\nContent-Length: 32\r\n"
        "Connection: close\r\n\r\n{\"error\":\"too many connections\"}";
    ssize_t n = send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)n; /* best effort: the client may be gone */
    close(fd);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
                      struct sockaddr *sa, int salen, void *arg)
{
    struct http_server *s = arg;
    (void)l;
    if (s->accept_paused) {
        log_info("Accepting connections again");
        s->accept_paused = 0;
    }
    if (s->nconns >= s->cfg->worker_connections) {
        refuse(fd);
        return;
    }
    if (http__conn_new(s, fd, sa, (socklen_t)salen) < 0)
        close(fd);
}

static void listeners_enable(struct http_server *s, int on)
{
    for (int i = 0; i < s->nlev; i++)
        (on ? evconnlistener_enable : evconnlistener_disable)(s->lev[i]);
}

/* Out of fds (or memory): the pending connection stays in the backlog and
 * would wake us forever. Stop accepting for a moment instead. */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
    struct http_server *s = arg;
    int err = EVUTIL_SOCKET_ERROR();
    (void)l;
    if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM) {
        log_warn("accept: %s", strerror(err));
        return;
    }
    if (!s->accept_paused)
        log_error("accept: %s; pausing accepts", strerror(err));
    s->accept_paused = 1;
    listeners_enable(s, 0);
    struct timeval tv = { 0, ACCEPT_RETRY_MS * 1000 };
    evtimer_add(&s->retry, &tv);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    struct http_server *s = arg;
    (void)fd;
    (void)what;
    if (!s->draining)
        listeners_enable(s, 1);
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    http__req_reap(arg);
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
    struct http_server *s = arg;
    void (*done)(void *) = s->done;
    (void)fd;
    (void)what;
    s->done = NULL;
    if (done)
        done(s->done_arg);
}

/* ---- the server ---- */

struct http_server *http_server_new(struct event_base *base,
                                    const struct cfg *cfg,
                                    struct sb_slot *slot,
                                    http_handler handler, void *arg)
{
    struct http_server *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->base = base;
    s->cfg = cfg;
    s->slot = slot;
    s->handler = handler;
    s->arg = arg;
    s->lim.line = cfg->limit_request_line > 0 ? (size_t)cfg->limit_request_line : 0;
    s->lim.fields = cfg->limit_request_fields;
    s->lim.field_size = cfg->limit_request_field_size > 0
                            ? (size_t)cfg->limit_request_field_size
                            : 0;
    evtimer_assign(&s->retry, base, on_retry, s);
    event_assign(&s->done_ev, base, -1, 0, on_done, s);
    event_assign(&s->reap_ev, base, -1, 0, on_reap, s);
    return s;
}

int http_server_listen(struct http_server *s, int fd)
{
    struct evconnlistener **v = realloc(s->lev, sizeof(*v) * (size_t)(s->nlev + 1));
    if (v == NULL || evutil_make_socket_nonblocking(fd) < 0) {
        s->lev = v ? v : s->lev;
        close(fd);
        return -1;
    }
    s->lev = v;
    struct evconnlistener *l = evconnlistener_new(s->base, on_accept, s,
                                                  LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
    if (l == NULL) {
        close(fd);
        return -1;
    }
    evconnlistener_set_error_cb(l, on_accept_error);
    if (s->draining)
        evconnlistener_disable(l);
    s->lev[s->nlev++] = l;
    return 0;
}

static void listeners_free(struct http_server *s)
{
    for (int i = 0; i < s->nlev; i++)
        evconnlistener_free(s->lev[i]);
    s->nlev = 0;
    evtimer_del(&s->retry);
}

void http_server_drain(struct http_server *s, void (*done)(void *), void *arg)
{
    s->done = done;
    s->done_arg = arg;
    if (!s->draining) {
        s->draining = 1;
        listeners_free(s);
        struct conn *next;
        for (struct conn *c = s->conns; c != NULL; c = next) {
            next = c->next;
            c->close_after = 1;
            if (c->state != C_HEAD || c->req != NULL)
                continue;
            /* A head arriving, or a new connection whose first request
             * may be on its way: answer it (or let the head deadline
             * pass), then close. Closing it now would drop a request
             * the client already sent. */
            if (c->in_len > 0 || c->nreq == 0)
                continue;
            if (evbuffer_get_length(c->out) == 0) {
                http__conn_close(c); /* idle keep-alive */
            } else {
                c->closing = 1; /* http__conn_arm kicks it to linger */
                http__conn_arm(c);
            }
        }
    }
    if (s->nconns == 0)
        event_active(&s->done_ev, EV_TIMEOUT, 1);
}

int http_server_connections(const struct http_server *s)
{
    return s->nconns;
}

void http_server_free(struct http_server *s)
{
    if (s == NULL)
        return;
    listeners_free(s);
    s->draining = 0;
    while (s->conns != NULL)
        http__conn_close(s->conns);
    http__req_reap(s); /* those ended as their connections closed too */
    event_del(&s->reap_ev);
    event_del(&s->done_ev);
    free(s->lev);
    free(s);
}
