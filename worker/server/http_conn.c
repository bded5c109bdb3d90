/*
 * http_conn — one client connection: reading and framing requests (head,
 * Content-Length or chunked body, Expect), handing them to the app one at
 * a time, writing responses, timeouts, lingering close.
 *
 * One request at a time per connection: while the app has a request,
 * further (pipelined) input is read into the buffer but not parsed, and
 * the read doubles as close detection, so an app learns within one loop
 * turn that its client went away.
 */
#include "worker/server/http_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/cfg.h"
#include "common/log.h"
#include "common/scoreboard.h"

#define READ_CHUNK 16384
#define HEAD_INPUT_MAX (HTTP_HEAD_HARD_MAX + READ_CHUNK)
#define APP_INPUT_MAX 65536   /* pipelined bytes kept while the app works */
#define SEND_TIMEOUT_MS 60000 /* nginx's send_timeout: a client reading nothing */
#define LINGER_MS 2000        /* reading after a close, so the client sees it */

static void conn_process(struct conn *c);

static void slot_conns(struct http_server *s)
{
    if (s->slot)
        s->slot->connections = s->nconns;
}

static int64_t ms_from_s(int s)
{
    return (int64_t)(s > 0 ? s : 1) * 1000;
}

/* Milliseconds left until deadline; 0 once it has passed. */
static int64_t ms_until(int64_t deadline)
{
    int64_t ms = deadline - sb_now_ms();
    return ms > 0 ? ms : 0;
}

/* ---- timers and event interest: one place decides both ---- */

/* c->armed mirrors which of c's events are added, so that http__conn_arm, run
 * after every write, costs libevent calls only when interest changes. */
static void set_event(struct conn *c, struct event *ev, unsigned bit,
                      int want)
{
    if (want == !!(c->armed & bit))
        return;
    if (want) {
        event_add(ev, NULL);
        c->armed |= bit;
    } else {
        event_del(ev);
        c->armed &= ~bit;
    }
}

void http__conn_arm(struct conn *c)
{
    const struct cfg *cfg = c->srv->cfg;
    size_t pending = evbuffer_get_length(c->out);
    int64_t ms = -1;
    int want_read = 0;

    switch (c->state) {
    case C_HEAD:
        want_read = !c->closing && c->in_len < HEAD_INPUT_MAX;
        ms = c->head_started ? ms_until(c->deadline_ms)
                             : ms_from_s(cfg->keepalive);
        break;
    case C_BODY:
        want_read = 1;
        ms = ms_from_s(cfg->client_header_timeout);
        break;
    case C_APP:
        want_read = c->in_len < APP_INPUT_MAX;
        break;
    case C_LINGER:
        want_read = 1;
        ms = ms_until(c->deadline_ms);
        break;
    }
    if (pending > 0 && c->state != C_LINGER)
        ms = SEND_TIMEOUT_MS;
    if (c->closing && c->state != C_LINGER && pending == 0)
        http__conn_kick(c); /* on_write moves it to linger */
    set_event(c, &c->rev, ARMED_R, want_read);
    /* Paused with the app working: still learn of a close (FIN). */
    set_event(c, &c->cev, ARMED_C, c->state == C_APP && !want_read && (event_base_get_features(c->srv->base) & EV_FEATURE_EARLY_CLOSE));
    set_event(c, &c->wev, ARMED_W, pending > 0);
    if (ms < 0) {
        set_event(c, &c->tev, ARMED_T, 0);
    } else {
        struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
        evtimer_add(&c->tev, &tv); /* a fired timer closes c */
        c->armed |= ARMED_T;
    }
}

/* ---- writing ---- */

void http__conn_flush(struct conn *c)
{
    if (c->broken)
        return;
    while (evbuffer_get_length(c->out) > 0) {
        int n = evbuffer_write(c->out, c->fd);
        if (n > 0)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        c->broken = 1;
        http__conn_kick(c);
        return;
    }
    http__conn_arm(c);
}

/* Its own event: activating wev would be undone by the next event_del
 * of wev when no output is pending. */
void http__conn_kick(struct conn *c)
{
    event_active(&c->kev, EV_TIMEOUT, 1);
}

/* Connections whose output waits (one loop per process: one list). */
static struct conn *held;

static void unhold(struct conn *c)
{
    if (!c->held)
        return;
    if (c->hprev)
        c->hprev->hnext = c->hnext;
    else
        held = c->hnext;
    if (c->hnext)
        c->hnext->hprev = c->hprev;
    c->hprev = c->hnext = NULL;
    c->held = 0;
}

void http__conn_hold(struct conn *c)
{
    if (!c->held) {
        c->hprev = NULL;
        c->hnext = held;
        if (held)
            held->hprev = c;
        held = c;
        c->held = 1;
    }
    http__conn_kick(c);
}

void http_flush_held(void *arg)
{
    (void)arg;
    while (held != NULL) {
        struct conn *c = held;
        unhold(c);
        http__conn_flush(c); /* broken: kicked, on_write closes it */
    }
}

/* Response sent, write side shut: read and drop what the client still
 * sends until it closes, so a close does not turn into a reset that
 * destroys the response in flight. */
static void conn_linger(struct conn *c)
{
    if (shutdown(c->fd, SHUT_WR) < 0) {
        http__conn_close(c);
        return;
    }
    c->state = C_LINGER;
    c->deadline_ms = sb_now_ms() + LINGER_MS;
    http__conn_arm(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)fd;
    (void)what;
    unhold(c);
    http__conn_flush(c);
    if (c->broken) {
        http__conn_close(c);
        return;
    }
    if (c->req != NULL && c->req->dispatched)
        http__req_check_drain(c->req);
    if (c->state == C_HEAD)
        conn_process(c);
    if (c->closing && c->state != C_LINGER && evbuffer_get_length(c->out) == 0) {
        conn_linger(c);
        return;
    }
    http__conn_arm(c);
}

/* ---- reading ---- */

/* Reads land here first, so a connection holds only the bytes it has not
 * used yet (nothing while idle or streaming). One loop per process: one
 * buffer. */
static char rbuf[READ_CHUNK];

static int conn_append(struct conn *c, const char *d, size_t n)
{
    if (c->in_len + n > c->in_cap) {
        size_t cap = c->in_cap ? c->in_cap : 512;
        while (cap < c->in_len + n)
            cap *= 2;
        char *p = realloc(c->in, cap);
        if (p == NULL)
            return -1;
        c->in = p;
        c->in_cap = cap;
    }
    memcpy(c->in + c->in_len, d, n);
    c->in_len += n;
    return 0;
}

static void consume(struct conn *c, size_t n)
{
    c->in_len -= n;
    if (c->in_len > 0) {
        memmove(c->in, c->in + n, c->in_len);
        return;
    }
    free(c->in);
    c->in = NULL;
    c->in_cap = 0;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)what;
    ssize_t n = read(fd, rbuf, sizeof(rbuf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        http__conn_close(c); /* EOF or reset: the client is gone */
        return;
    }
    if (c->state == C_LINGER) {
        http__conn_arm(c);
        return; /* dropped */
    }
    if (conn_append(c, rbuf, (size_t)n) < 0) {
        http__conn_close(c);
        return;
    }
    if (c->state == C_HEAD && !c->head_started) {
        c->head_started = 1;
        c->deadline_ms = sb_now_ms() + ms_from_s(c->srv->cfg->client_header_timeout);
    }
    conn_process(c);
    http__conn_arm(c);
}

/* ---- framing requests ---- */

/* Answers the request being read with an error; the app never sees it. */
static int conn_reject(struct conn *c, int status, const char *msg)
{
    c->close_after = 1;
    c->state = C_APP;
    c->req->dispatched = 1;
    http_resp_error(c->req, status, msg);
    return 0;
}

static int conn_dispatch(struct conn *c)
{
    struct http_req *r = c->req;
    c->state = C_APP;
    r->dispatched = 1;
    if (c->srv->draining)
        c->close_after = 1;
    c->srv->handler(r, c->srv->arg);
    return 1;
}

static const char *head_error(int status)
{
    switch (status) {
    case 414:
        return "request line too long";
    case 431:
        return "request header fields too large";
    case 501:
        return "transfer encoding not implemented";
    case 505:
        return "HTTP version not supported";
    default:
        return "bad request";
    }
}

static int expect_continue(struct conn *c, enum http_body kind)
{
    const char *e = http_req_header(c->req, "Expect");
    if (e == NULL)
        return 0;
    if (strcasecmp(e, "100-continue") != 0) {
        conn_reject(c, 417, "expectation failed");
        return -1;
    }
    if (kind != HTTP_BODY_NONE && c->req->head.minor >= 1 && c->in_len == 0)
        evbuffer_add(c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    return 0;
}

static int conn_body_start(struct conn *c)
{
    struct http_req *r = c->req;
    enum http_body kind;
    uint64_t len;
    int st = http_head_body(&r->head, &kind, &len);
    if (st < 0)
        return conn_reject(c, -st, head_error(-st));
    long limit = c->srv->cfg->limit_request_body;
    if (kind == HTTP_BODY_LENGTH && limit > 0 && len > (uint64_t)limit)
        return conn_reject(c, 413, "request body too large");
    if (expect_continue(c, kind) < 0)
        return 0;
    if (kind == HTTP_BODY_NONE)
        return conn_dispatch(c);
    c->chunked = kind == HTTP_BODY_CHUNKED;
    /* HTTP/1.0 has no chunked coding: an intermediary of that version
     * framed this body some other way, so nothing after it on the
     * connection can be trusted (RFC 9112 6.1: close after it). */
    if (c->chunked && r->head.minor == 0)
        c->close_after = 1;
    c->body_left = len;
    r->body_cap = c->chunked ? 1024 : (size_t)len + 1;
    r->body = malloc(r->body_cap);
    if (r->body == NULL)
        return conn_reject(c, 500, "out of memory");
    h1f_chunked_init(&c->chunk, c->srv->lim.field_size);
    c->state = C_BODY;
    return 1;
}

static int conn_head(struct conn *c)
{
    const struct cfg *cfg = c->srv->cfg;
    if (c->in_len == 0 || evbuffer_get_length(c->out) > (size_t)cfg->stream_buffer)
        return 0;
    long len = http_scan_head(&c->scan, c->in, c->in_len, &c->srv->lim);
    if (len == 0)
        return 0;
    if (len < 0) {
        http__error_raw(c, (int)-len, head_error((int)-len));
        return 0;
    }
    int status = 500;
    c->req = http__req_new(c, c->in, (size_t)len, c->scan.fields, &status);
    if (c->req == NULL) {
        http__error_raw(c, status, head_error(status));
        return 0;
    }
    consume(c, (size_t)len);
    memset(&c->scan, 0, sizeof(c->scan));
    c->nreq++;
    if (!c->req->keepalive || cfg->keepalive <= 0)
        c->close_after = 1;
    return conn_body_start(c);
}

static int body_append(struct http_req *r, const char *d, size_t n, long limit)
{
    if (limit > 0 && r->body_len + n > (size_t)limit)
        return -413;
    if (r->body_len + n + 1 > r->body_cap) {
        size_t cap = r->body_cap * 2;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        char *p = realloc(r->body, cap);
        if (p == NULL)
            return -500;
        r->body = p;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, d, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return 0;
}

/* Moves buffered body bytes into the request; dispatches when whole. */
static int conn_body(struct conn *c)
{
    struct http_req *r = c->req;
    long limit = c->srv->cfg->limit_request_body;
    if (c->in_len == 0)
        return 0;
    if (!c->chunked) {
        size_t n = c->in_len < c->body_left ? c->in_len : (size_t)c->body_left;
        body_append(r, c->in, n, 0); /* room reserved up front */
        consume(c, n);
        c->body_left -= n;
        return c->body_left == 0 ? conn_dispatch(c) : 0;
    }
    for (;;) {
        const char *d;
        size_t used, dl;
        int st = h1f_chunked_feed(&c->chunk, c->in, c->in_len, &used, &d, &dl);
        int e = st == H1F_CHUNK_DATA ? body_append(r, d, dl, limit) : 0;
        if (st == H1F_CHUNK_BAD)
            st = -400;
        if (e < 0)
            st = e;
        if (st < 0)
            return conn_reject(c, -st, -st == 413 ? "request body too large" : -st == 500 ? "out of memory"
                                                                                          : head_error(-st));
        consume(c, used);
        if (st == H1F_CHUNK_DONE)
            return conn_dispatch(c);
        if (st == H1F_CHUNK_MORE)
            return 0;
    }
}

static void conn_process(struct conn *c)
{
    if (c->in_process)
        return;
    c->in_process = 1;
    for (;;) {
        int more = 0;
        if (c->closing || c->broken)
            break;
        if (c->state == C_HEAD)
            more = conn_head(c);
        else if (c->state == C_BODY)
            more = conn_body(c);
        if (!more)
            break;
    }
    c->in_process = 0;
    http__conn_flush(c);
}

void http__conn_response_done(struct conn *c)
{
    c->req = NULL;
    c->state = C_HEAD;
    if (c->close_after || c->srv->draining) {
        c->closing = 1;
    } else if (c->in_len > 0) {
        c->head_started = 1;
        c->deadline_ms = sb_now_ms() + ms_from_s(c->srv->cfg->client_header_timeout);
    } else {
        c->head_started = 0;
    }
    if (!c->in_process)
        http__conn_kick(c);
}

/* A timeout, or the peer closed while reading was paused. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    http__conn_close(arg);
}

/* ---- connections ---- */

void http__conn_close(struct conn *c)
{
    struct http_server *s = c->srv;
    struct http_req *r = c->req;
    event_del(&c->rev);
    event_del(&c->wev);
    event_del(&c->tev);
    event_del(&c->kev);
    event_del(&c->cev);
    unhold(c);
    if (r != NULL && r->dispatched)
        r->body_queued -= r->body_queued < evbuffer_get_length(c->out)
                              ? r->body_queued
                              : evbuffer_get_length(c->out);
    close(c->fd);
    evbuffer_free(c->out);
    free(c->in);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    slot_conns(s);
    free(c);
    if (r != NULL) {
        if (r->dispatched)
            http__req_detach(r);
        else
            http__req_free(r);
    }
    if (s->draining && s->nconns == 0)
        event_active(&s->done_ev, EV_TIMEOUT, 1);
}

int http__conn_new(struct http_server *s, int fd, const struct sockaddr *sa,
                   socklen_t salen)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL || (c->out = evbuffer_new()) == NULL) {
        free(c);
        return -1;
    }
    if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
        int one = 1; /* each stream chunk goes out at once */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    addr_peer_text(sa, salen, c->client, sizeof(c->client));
    c->srv = s;
    c->fd = fd;
    event_assign(&c->rev, s->base, fd, EV_READ | EV_PERSIST, on_read, c);
    event_assign(&c->wev, s->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
    evtimer_assign(&c->tev, s->base, on_timer, c);
    event_assign(&c->kev, s->base, -1, 0, on_write, c);
    event_assign(&c->cev, s->base, fd, EV_CLOSED | EV_PERSIST, on_timer, c);
    c->head_started = 1; /* the head deadline runs from accept */
    c->deadline_ms = sb_now_ms() + ms_from_s(s->cfg->client_header_timeout);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    slot_conns(s);
    http__conn_arm(c);
    return 0;
}
