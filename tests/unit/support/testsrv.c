/* The in-process test server: see testsrv.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "worker/apptimer.h"
#include "worker/fetch/fetch.h"
#include "tests/unit/support/testsrv.h"

struct stream { /* a chunked reply sent by a timer */
    struct stream *next;
    struct evhttp_request *req;
    struct event *timer;
    int left, sent, ms;
    int cut; /* drop the connection instead of ending */
};

struct event_base *testsrv_base;
int testsrv_native = 1;
static struct evhttp *http;
static int port;
static struct stream *streams;
static int hits[16]; /* /flaky attempts, by key */
static int cut_hits;

static int qint(struct evkeyvalq *q, const char *k, int dflt)
{
    const char *v = evhttp_find_header(q, k);
    return v != NULL ? atoi(v) : dflt;
}

static void stream_free(struct stream *s)
{
    struct stream **pp;

    for (pp = &streams; *pp != s; pp = &(*pp)->next)
        ;
    *pp = s->next;
    event_free(s->timer);
    free(s);
}

/* The client went away. evhttp has detached the unanswered request from
 * the connection and leaves it to us: ending it frees it. */
static void stream_closed(struct evhttp_connection *c, void *arg)
{
    struct stream *s = arg;

    (void)c;
    evhttp_send_reply_end(s->req);
    stream_free(s);
}

static void stream_tick(evutil_socket_t fd, short what, void *arg)
{
    struct stream *s = arg;
    struct evhttp_connection *c = evhttp_request_get_connection(s->req);
    struct timeval tv = { s->ms / 1000, (s->ms % 1000) * 1000 };
    struct evbuffer *b;

    (void)fd, (void)what;
    if (s->left == 0) {
        evhttp_connection_set_closecb(c, NULL, NULL);
        if (s->cut)
            evhttp_connection_free(c);
        else
            evhttp_send_reply_end(s->req);
        stream_free(s);
        return;
    }
    b = evbuffer_new();
    evbuffer_add_printf(b, "chunk-%d\n", s->sent++);
    evhttp_send_reply_chunk(s->req, b);
    evbuffer_free(b);
    s->left--;
    evtimer_add(s->timer, &tv);
}

/* Keeps req until it is answered or its client goes away. */
static struct stream *stream_new(struct evhttp_request *req, int n, int ms)
{
    struct stream *s = calloc(1, sizeof *s);

    assert_non_null(s);
    s->req = req;
    s->left = n;
    s->ms = ms;
    s->timer = evtimer_new(testsrv_base, stream_tick, s);
    s->next = streams;
    streams = s;
    evhttp_connection_set_closecb(evhttp_request_get_connection(req),
                                  stream_closed, s);
    return s;
}

static void start_stream(struct evhttp_request *req, int n, int ms, int cut)
{
    struct stream *s = stream_new(req, n, ms);
    struct timeval now = { 0, 0 };

    s->cut = cut;
    evhttp_add_header(evhttp_request_get_output_headers(req),
                      "Content-Type", "text/plain");
    evhttp_send_reply_start(req, 200, "OK");
    evtimer_add(s->timer, &now); /* the first chunk at once */
}

/* Several chunks written at once: the client reads them in one go. */
static void burst(struct evhttp_request *req)
{
    struct evbuffer *b = evbuffer_new();

    evhttp_send_reply_start(req, 200, "OK");
    for (int i = 0; i < 5; i++) {
        evbuffer_add_printf(b, "burst-%d\n", i);
        evhttp_send_reply_chunk(req, b);
    }
    evhttp_send_reply_end(req);
    evbuffer_free(b);
}

static void reply(struct evhttp_request *req, int code, const char *body)
{
    struct evbuffer *b = evbuffer_new();

    evbuffer_add(b, body, strlen(body));
    evhttp_send_reply(req, code, "X", b);
    evbuffer_free(b);
}

static void echo(struct evhttp_request *req)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    const char *x = evhttp_find_header(evhttp_request_get_input_headers(req),
                                       "X-Test");
    const char *method = evhttp_request_get_command(req) == EVHTTP_REQ_PUT
                             ? "PUT"
                             : "POST";
    char len[32];

    snprintf(len, sizeof len, "%zu", evbuffer_get_length(in));
    evhttp_add_header(out, "X-Echo-Len", len);
    evhttp_add_header(out, "X-Echo-Method", method);
    evhttp_add_header(out, "X-Echo-Hdr", x != NULL ? x : "");
    evhttp_send_reply(req, 201, "Created", in);
}

/* Fails its first `fail` attempts (per key) with `status`. */
static void flaky(struct evhttp_request *req, struct evkeyvalq *q)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    int key = qint(q, "key", 0) & 15;
    const char *ra_ms = evhttp_find_header(q, "ra_ms");
    const char *ra = evhttp_find_header(q, "ra");

    char ok[32];

    if (++hits[key] > qint(q, "fail", 0)) {
        /* the body each attempt sent, measured */
        snprintf(ok, sizeof ok, "ok:%zu",
                 evbuffer_get_length(evhttp_request_get_input_buffer(req)));
        reply(req, 200, ok);
        return;
    }
    if (ra_ms != NULL)
        evhttp_add_header(out, "retry-after-ms", ra_ms);
    if (ra != NULL)
        evhttp_add_header(out, "Retry-After", ra);
    reply(req, qint(q, "status", 503), "error body");
}

static void route(struct evhttp_request *req, void *arg)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = evhttp_uri_get_path(uri);
    const char *query = evhttp_uri_get_query(uri);
    struct evkeyvalq q;

    (void)arg;
    evhttp_parse_query_str(query != NULL ? query : "", &q);
    if (strcmp(path, "/stream") == 0)
        start_stream(req, qint(&q, "n", 5), qint(&q, "ms", 20), 0);
    else if (strcmp(path, "/cut") == 0) {
        cut_hits++;
        start_stream(req, 1, 50, 1);
    } else if (strcmp(path, "/echo") == 0)
        echo(req);
    else if (strcmp(path, "/burst") == 0)
        burst(req);
    else if (strcmp(path, "/flaky") == 0)
        flaky(req, &q);
    else if (strcmp(path, "/stall-after-chunk") == 0)
        start_stream(req, 1, 10000, 0);
    else if (strcmp(path, "/stall") == 0)
        stream_new(req, 0, 0); /* never answers */
    else
        reply(req, 404, "no such path");
    evhttp_clear_headers(&q);
}

int testsrv_setup(void **state)
{
    struct evhttp_bound_socket *bs;
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    struct fetch_opts o;

    (void)state;
    memset(hits, 0, sizeof hits);
    cut_hits = 0;
    testsrv_base = event_base_new();
    assert_non_null(testsrv_base);
    app_timer_loop(testsrv_base);
    http = evhttp_new(testsrv_base);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
                                         EVHTTP_REQ_PUT);
    bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    assert_non_null(bs);
    assert_int_equal(getsockname(evhttp_bound_socket_get_fd(bs),
                                 (struct sockaddr *)&sa, &len),
                     0);
    port = ntohs(sa.sin_port);
    evhttp_set_gencb(http, route, NULL);
    fetch_opts_default(&o);
    o.native_http = testsrv_native;
    assert_int_equal(fetch_init(testsrv_base, &o), 0);
    return 0;
}

int testsrv_teardown(void **state)
{
    (void)state;
    fetch_cleanup();
    while (streams != NULL) {
        evhttp_connection_set_closecb(
            evhttp_request_get_connection(streams->req), NULL, NULL);
        stream_free(streams);
    }
    evhttp_free(http);
    app_timer_loop(NULL);
    event_base_free(testsrv_base);
    return 0;
}

int testsrv_port(void)
{
    return port;
}

char *testsrv_url(const char *path)
{
    static char buf[8][256];
    static int i;
    char *u = buf[i++ % 8];

    snprintf(u, sizeof buf[0], "http://127.0.0.1:%d%s", port, path);
    return u;
}

int testsrv_hits(int key)
{
    return hits[key & 15];
}

int testsrv_cut_hits(void)
{
    return cut_hits;
}

void testsrv_spin(int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

    event_base_loopexit(testsrv_base, &tv);
    event_base_dispatch(testsrv_base);
}
