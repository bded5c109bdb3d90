/*
 * h1 — see h1.h. The connection side: addresses and their idle
 * connections, connect, write, read; the response's bytes go through
 * h1_parse.c, and a compressed body through zlib.
 *
 * A transfer has one event, h->ev, on its connection's fd: EV_WRITE while
 * connecting and writing the request (with the connect timeout while
 * connecting), EV_READ after. It is also activated by hand for what must
 * not run inside h1_start or h1_resume: an error found at once, and the
 * bytes kept over a pause.
 */
#include "worker/fetch/h1/h1.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "worker/fetch/h1/h1_addr.h"
#include "worker/fetch/h1/h1_inflate.h"

#define HEAD_MAX (100 * 1024) /* a response head: curl's bound */

enum phase { PH_CONNECT,
             PH_SEND,
             PH_HEAD,
             PH_BODY,
             PH_END };

struct h1 {
    struct h1_conn *c; /* the connection, while the transfer has one */
    struct event dev;  /* deferred work (defer) */
    const struct h1_cbs *cbs;
    void *arg;
    struct h1_addr *addr;
    int ai; /* which of addr's addresses is dialled */
    struct iovec iov[2];
    const char *rq; /* the request: head, then body */
    size_t rqlen, bdlen;
    const void *bd;
    long connect_ms;
    char *head; /* response head bytes, then parsed */
    size_t headlen;
    struct h1_head resp;
    struct h1_body body;
    struct h1_inflate *z; /* gzip/deflate body, else NULL */
    char *stash;          /* received while paused */
    size_t stashlen;
    const char *err_msg; /* an error found at once, reported later */
    enum h1_err err;
    unsigned char phase;
    unsigned reused : 1, got : 1, keep : 1, paused : 1, head_req : 1,
        deferred : 1;
};

static struct {
    struct event_base *base;
    void (*after)(void *);
    void *after_arg;
} g;

static char rbuf[16384]; /* one recv's bytes; used before returning */

static void on_event(evutil_socket_t fd, short what, void *arg);
static void on_deferred(evutil_socket_t fd, short what, void *arg);

void h1_init(struct event_base *base, void (*after)(void *), void *arg)
{
    g.base = base;
    g.after = after;
    g.after_arg = arg;
}

/* ---- the connection's event ---- */

/* Watches h's connection for what. A kept connection is already watched
 * for EV_READ: nothing to do, no syscall. */
static void watch(struct h1 *h, short what, long timeout_ms)
{
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    struct h1_conn *c = h->c;

    if (c->on && c->what == what && timeout_ms <= 0)
        return;
    if (c->on)
        event_del(&c->ev);
    event_assign(&c->ev, g.base, c->fd, what | EV_PERSIST, on_event, c);
    event_add(&c->ev, timeout_ms > 0 ? &tv : NULL);
    c->on = 1;
    c->what = what;
}

static void unwatch(struct h1 *h)
{
    if (h->c != NULL && h->c->on) {
        event_del(&h->c->ev);
        h->c->on = 0;
    }
}

/* Runs on_deferred on the next loop turn, for an error found inside
 * h1_start or bytes kept over a pause. */
static void defer(struct h1 *h)
{
    h->deferred = 1;
    event_active(&h->dev, EV_READ, 0);
}

/* ---- the connection ---- */

static void conn_close(struct h1 *h)
{
    if (h->c != NULL)
        h1_conn_close(h->c);
    h->c = NULL;
}

static void set_iov(struct h1 *h)
{
    h->iov[0].iov_base = (void *)h->rq;
    h->iov[0].iov_len = h->rqlen;
    h->iov[1].iov_base = (void *)h->bd;
    h->iov[1].iov_len = h->bdlen;
}

/* Connects to addr's address ai. Returns 0 (connected or in progress) or
 * -1 with errno set. */
static int dial(struct h1 *h)
{
    int connected;

    h->reused = 0;
    if ((h->c = h1_conn_dial(h->addr, h->ai, &connected)) == NULL)
        return -1;
    h->c->h = h;
    h->phase = connected ? PH_SEND : PH_CONNECT;
    return 0;
}

/* A new connection for the request from its start: to the next address
 * when the last one failed to connect (next), else to the same. */
static int redial(struct h1 *h, int next)
{
    conn_close(h);
    if (next && h->ai + 1 >= h1_addr_count(h->addr))
        return -1;
    h->ai += next;
    set_iov(h);
    h->headlen = 0;
    return dial(h);
}

/* The connection goes back to the pool, still watched for EV_READ (a
 * close while idle is seen and the connection dropped), or is closed. */
static void release(struct h1 *h, int keep)
{
    struct h1_conn *c = h->c;

    if (c == NULL)
        return;
    if (keep && !(c->on && c->what == EV_READ))
        watch(h, EV_READ, 0);
    c->h = NULL;
    if (keep && h1_addr_put(h->addr, c) == 0)
        h->c = NULL;
    conn_close(h);
}

static void end(struct h1 *h, enum h1_err err, const char *msg)
{
    h->phase = PH_END;
    release(h, err == H1_OK && h->keep);
    h->cbs->done(h->arg, err, msg);
}

/* Starts writing, or waits for the connection. */
static void go(struct h1 *h)
{
    if (h->phase == PH_CONNECT)
        watch(h, EV_WRITE, h->connect_ms);
    else
        watch(h, EV_WRITE, 0);
}

/* The connection failed before a response: a reused one may have been
 * closed by the server while idle, a new one to "localhost" may have the
 * other address to try; else the transfer fails. */
static void failed_early(struct h1 *h, enum h1_err err, const char *msg)
{
    if ((h->reused && !h->got && redial(h, 0) == 0) ||
        (!h->reused && h->phase <= PH_SEND && err == H1_ECONNECT &&
         redial(h, 1) == 0)) {
        go(h);
        return;
    }
    end(h, err, msg);
}

/* Writes what the socket takes of the request; PH_HEAD once all is out.
 * Returns 0, or -1 with errno set. */
static int write_some(struct h1 *h)
{
    struct iovec *v = h->iov[0].iov_len ? h->iov : h->iov + 1;
    ssize_t n = writev(h->c->fd, v, v == h->iov ? 2 : 1);

    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    for (int i = 0; i < 2; i++) {
        size_t k = (size_t)n < h->iov[i].iov_len ? (size_t)n
                                                 : h->iov[i].iov_len;
        h->iov[i].iov_base = (char *)h->iov[i].iov_base + k;
        h->iov[i].iov_len -= k;
        n -= (ssize_t)k;
    }
    if (h->iov[0].iov_len == 0 && h->iov[1].iov_len == 0)
        h->phase = PH_HEAD;
    return 0;
}

static void send_req(struct h1 *h)
{
    if (write_some(h) != 0)
        failed_early(h, H1_ECONNECT, "sending the request failed");
    else if (h->phase == PH_HEAD)
        watch(h, EV_READ, 0);
    else
        go(h);
}

/* ---- the response ---- */

/* Content-Encoding: gzip and deflate are inflated (h1_inflate.h), as
 * curl did with CURLOPT_ACCEPT_ENCODING. Returns NULL or why not. */
static const char *coding(struct h1 *h)
{
    const char *why = NULL;

    if (h->resp.framing != H1_F_NONE)
        h->z = h1_inflate_new(h1_head_get(&h->resp, "content-encoding"),
                              &why);
    return why;
}

static int deliver(struct h1 *h, const char *p, size_t n)
{
    if (h->z != NULL)
        return h1_inflate_feed(h->z, p, n, h->cbs->data, h->arg);
    return h->cbs->data(h->arg, p, n) != 0 ? -1 : 0;
}

/* Keeps in[0..n) until h1_resume. Returns 0 or -1 (out of memory). */
static int stash(struct h1 *h, const char *in, size_t n)
{
    char *s;

    if (n == 0)
        return 0;
    if ((s = malloc(n)) == NULL)
        return -1;
    memcpy(s, in, n);
    free(h->stash);
    h->stash = s;
    h->stashlen = n;
    return 0;
}

/* Feeds body bytes. Returns 1 at the body's end, 0 for more, -1 when the
 * caller stopped the transfer; errors end the transfer (2). */
static int feed_body(struct h1 *h, const char *in, size_t n)
{
    while (!h->paused) {
        const char *piece;
        size_t used, plen;
        int r;

        switch (h1_body_next(&h->body, in, n, &used, &piece, &plen)) {
        case H1_MORE:
            return 0;
        case H1_END:
            if (used < n)
                h->keep = 0; /* bytes past the response: not reusable */
            return 1;
        case H1_BAD:
            end(h, H1_ERECV, "upstream sent a malformed chunked body");
            return 2;
        default:
            break;
        }
        in += used;
        n -= used;
        if ((r = deliver(h, piece, plen)) == -1)
            return -1;
        if (r == -2) {
            end(h, H1_ERECV, "upstream sent a body that does not inflate");
            return 2;
        }
    }
    if (stash(h, in, n) != 0) {
        end(h, H1_ERECV, "out of memory");
        return 2;
    }
    return 0;
}

/* The head is complete in h->head[0..len): parse it and start the body.
 * Returns 0, -1 stopped, 2 ended. */
static int got_head(struct h1 *h, size_t len)
{
    const char *why = NULL;

    if (h1_head_parse(h->head, len, h->head_req, &h->resp, &why) != 0) {
        end(h, H1_ERECV, why);
        return 2;
    }
    if (h->resp.status < 200) {
        h->headlen = 0; /* 100 Continue and friends */
        return 0;
    }
    h->phase = PH_BODY;
    h->keep = h->resp.keep_alive;
    h1_body_init(&h->body, &h->resp);
    if ((why = coding(h)) != NULL) {
        end(h, H1_ERECV, why);
        return 2;
    }
    return h->cbs->head(h->arg, &h->resp) != 0 ? -1 : 0;
}

/* Head bytes: appended to h->head until its blank line. Returns the bytes
 * of in used, or -1 stopped, or -2 ended. */
static ssize_t feed_head(struct h1 *h, const char *in, size_t n)
{
    size_t old = h->headlen, from = old > 3 ? old - 3 : 0, e;
    char *nh;
    int r;

    if (old + n > HEAD_MAX)
        n = HEAD_MAX - old;
    /* Usually the whole head is in the first read, with body after it:
     * only the head is copied, as it is kept for the transfer's life. */
    if (old == 0 && (e = h1_head_end(in, n)) > 0)
        n = e;
    if ((nh = realloc(h->head, old + n + 1)) == NULL) {
        end(h, H1_ERECV, "out of memory");
        return -2;
    }
    h->head = nh;
    memcpy(h->head + old, in, n);
    h->headlen = old + n;
    if ((e = h1_head_end(h->head + from, h->headlen - from)) == 0) {
        if (h->headlen < HEAD_MAX)
            return (ssize_t)n;
        end(h, H1_ERECV, "upstream sent a response head over 100 KiB");
        return -2;
    }
    e += from;
    if (e + 1 < h->headlen && (nh = realloc(h->head, e + 1)) != NULL)
        h->head = nh; /* the body bytes copied with it are not kept */
    h->head[e] = '\0';
    if ((r = got_head(h, e)) != 0)
        return r == -1 ? -1 : -2;
    return (ssize_t)(e - old);
}

/* Bytes from the connection (or the stash). Returns 1 when the response
 * ended cleanly, 0 to read on, -1 stopped, 2 ended otherwise. */
static int feed(struct h1 *h, const char *in, size_t n)
{
    while (n > 0 && h->phase == PH_HEAD) {
        ssize_t k = feed_head(h, in, n);

        if (k < 0)
            return k == -1 ? -1 : 2;
        in += k;
        n -= (size_t)k;
    }
    if (h->phase != PH_BODY)
        return 0;
    return feed_body(h, in, n);
}

/* After feed: the transfer's next step. */
static void fed(struct h1 *h, int r)
{
    if (r == -1) {
        /* the caller stopped it: nothing more is said, h1_free follows */
        h->phase = PH_END;
        conn_close(h);
    } else if (r == 1) {
        end(h, H1_OK, "ok");
    } else if (r == 0 && h->paused) {
        unwatch(h);
    }
}

static void on_eof(struct h1 *h, int err)
{
    if (h->phase == PH_BODY && h->body.framing == H1_F_CLOSE && err == 0) {
        h->keep = 0;
        end(h, H1_OK, "ok");
    } else if (h->phase == PH_BODY) {
        end(h, H1_ERECV, err ? "connection to upstream reset" : "upstream closed the connection mid-body");
    } else {
        failed_early(h, H1_ECONNECT, h->got ? "upstream closed the connection inside its head" : "upstream closed the connection without answering");
    }
}

static void on_readable(struct h1 *h)
{
    ssize_t n = recv(h->c->fd, rbuf, sizeof rbuf, 0);

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        on_eof(h, n < 0 ? errno : 0);
        return;
    }
    h->got = 1;
    fed(h, feed(h, rbuf, (size_t)n));
}

/* What was kept over a pause, then the connection again. */
static void unstash(struct h1 *h)
{
    char *s = h->stash;
    size_t n = h->stashlen;

    h->stash = NULL;
    h->stashlen = 0;
    if (s != NULL) {
        int r = feed(h, s, n);

        free(s);
        if (r != 0) {
            fed(h, r);
            return; /* h may be freed */
        }
    }
    if (!h->paused)
        watch(h, EV_READ, 0);
}

static void on_connect(struct h1 *h, short what)
{
    int err = 0;
    socklen_t len = sizeof err;

    if (what & EV_TIMEOUT) {
        conn_close(h);
        end(h, H1_ETIMEOUT_CONNECT, "connect to upstream timed out");
        return;
    }
    if (getsockopt(h->c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
        failed_early(h, H1_ECONNECT, "could not connect to upstream");
        return;
    }
    h->phase = PH_SEND;
    send_req(h);
}

static void after(void)
{
    if (g.after != NULL)
        g.after(g.after_arg);
}

static void on_deferred(evutil_socket_t fd, short what, void *arg)
{
    struct h1 *h = arg;

    (void)fd, (void)what;
    h->deferred = 0;
    if (h->err_msg != NULL)
        end(h, h->err, h->err_msg);
    else if (h->phase == PH_BODY)
        unstash(h);
    after();
}

/* The connection's event: for its transfer, or, while it is idle, the
 * server closing it (or talking out of turn): it is dropped. */
static void on_event(evutil_socket_t fd, short what, void *arg)
{
    struct h1_conn *c = arg;
    struct h1 *h = c->h;

    (void)fd;
    if (h == NULL) {
        h1_addr_drop(c);
        return;
    }
    if (h->phase == PH_CONNECT) {
        on_connect(h, what);
    } else if (h->phase == PH_SEND) {
        send_req(h);
    } else if (h->phase == PH_HEAD || h->phase == PH_BODY) {
        on_readable(h);
    }
    after();
}

/* ---- the caller's side ---- */

struct h1 *h1_start(const char *key, const char *head, size_t headlen,
                    const void *body, size_t bodylen, int head_req,
                    long connect_ms, const struct h1_cbs *cbs, void *arg)
{
    struct h1 *h = calloc(1, sizeof *h);

    if (h == NULL)
        return NULL;
    if ((h->addr = h1_addr_get(key)) == NULL) {
        free(h);
        return NULL;
    }
    h->cbs = cbs;
    h->arg = arg;
    h->rq = head;
    h->rqlen = headlen;
    h->bd = body;
    h->bdlen = bodylen;
    h->head_req = head_req != 0;
    h->connect_ms = connect_ms;
    set_iov(h);
    event_assign(&h->dev, g.base, -1, 0, on_deferred, h);
    if ((h->c = h1_addr_take(h->addr)) != NULL) {
        h->c->h = h;
        h->reused = 1;
        h->phase = PH_SEND;
    } else if (dial(h) != 0 && redial(h, 1) != 0) {
        h->err = H1_ECONNECT;
        h->err_msg = "could not connect to upstream";
        conn_close(h);
        defer(h);
        return h;
    }
    /* A kept connection takes the request at once; any error is left to
     * the event, so that no callback runs in here. */
    if (h->phase == PH_SEND && write_some(h) == 0 && h->phase == PH_HEAD)
        watch(h, EV_READ, 0);
    else
        go(h);
    return h;
}

void h1_pause(struct h1 *h)
{
    h->paused = 1;
    if (h->phase == PH_BODY)
        unwatch(h);
}

void h1_resume(struct h1 *h)
{
    if (!h->paused)
        return;
    h->paused = 0;
    if (h->phase == PH_BODY)
        defer(h);
}

const struct h1_head *h1_response(const struct h1 *h)
{
    return h->phase >= PH_BODY && h->resp.status >= 200 ? &h->resp : NULL;
}

void h1_stop(struct h1 *h)
{
    if (h == NULL || h->phase == PH_END)
        return;
    h->phase = PH_END;
    if (h->deferred)
        event_del(&h->dev);
    h->deferred = 0;
    conn_close(h);
}

void h1_free(struct h1 *h)
{
    if (h == NULL)
        return;
    if (h->deferred)
        event_del(&h->dev);
    conn_close(h);
    h1_inflate_free(h->z);
    free(h->stash);
    free(h->head);
    free(h);
}
