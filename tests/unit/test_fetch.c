/* Tests for worker/fetch.c against an in-process evhttp server on a free
 * 127.0.0.1 port, served by the same event_base as the client (real
 * sockets, one loop, as in a worker). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/log.h"
#include "worker/fetch.h"

/* ---- the server ---- */

struct stream {                 /* a chunked reply sent by a timer */
    struct stream *next;
    struct evhttp_request *req;
    struct event *timer;
    int left, sent, ms;
    int cut;                    /* drop the connection instead of ending */
};

static struct event_base *base;
static struct evhttp *http;
static int port;
static struct stream *streams;
static int hits[16];            /* /flaky attempts, by key */
static int cut_hits;

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
    s->timer = evtimer_new(base, stream_tick, s);
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
    evtimer_add(s->timer, &now);       /* the first chunk at once */
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
                         ? "PUT" : "POST";
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
        stream_new(req, 0, 0);          /* never answers */
    else
        reply(req, 404, "no such path");
    evhttp_clear_headers(&q);
}

static int setup(void **state)
{
    struct evhttp_bound_socket *bs;
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;

    (void)state;
    base = event_base_new();
    http = evhttp_new(base);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
                                     EVHTTP_REQ_PUT);
    bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    assert_non_null(bs);
    assert_int_equal(getsockname(evhttp_bound_socket_get_fd(bs),
                                 (struct sockaddr *)&sa, &len), 0);
    port = ntohs(sa.sin_port);
    evhttp_set_gencb(http, route, NULL);
    assert_int_equal(fetch_init(base, NULL), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fetch_cleanup();
    while (streams != NULL) {
        evhttp_connection_set_closecb(
            evhttp_request_get_connection(streams->req), NULL, NULL);
        stream_free(streams);
    }
    evhttp_free(http);
    event_base_free(base);
    return 0;
}

/* ---- the client's view ---- */

struct rec {
    int headers, status, data_calls, done;
    int data_before_headers;
    enum fetch_rc rc;
    int done_status, attempts;
    char body[256 * 1024];
    size_t len;
    char hdr[64], hdr_done[64];     /* a header read in on_headers/done */
    const char *hdr_name;
    int cancel_in_headers, cancel_in_data;
    struct fetch *cancel_other;
    int pause_in_data, paused, data_while_paused;
    struct fetch *f;
    int64_t t0, t_done;
};

static void copy_header(struct fetch *f, const char *name, char *to)
{
    const char *v = name != NULL ? fetch_header(f, name) : NULL;
    snprintf(to, 64, "%s", v != NULL ? v : "(none)");
}

static void on_headers(struct fetch *f, int status, void *arg)
{
    struct rec *r = arg;

    r->headers++;
    r->status = status;
    assert_int_equal(fetch_status(f), status);
    copy_header(f, r->hdr_name, r->hdr);
    if (r->cancel_in_headers)
        fetch_cancel(f);
}

static void resume_later(evutil_socket_t fd, short what, void *arg)
{
    struct rec *r = arg;

    (void)fd, (void)what;
    r->paused = 0;
    fetch_resume(r->f);
}

static void on_data(struct fetch *f, const char *p, size_t n, void *arg)
{
    struct rec *r = arg;
    struct timeval tv = { 0, 400 * 1000 };

    if (r->headers == 0)
        r->data_before_headers++;
    if (r->paused)
        r->data_while_paused++;
    r->data_calls++;
    assert_true(r->len + n <= sizeof r->body);
    memcpy(r->body + r->len, p, n);
    r->len += n;
    if (r->cancel_in_data) {
        fetch_cancel(f);
        if (r->cancel_other != NULL)
            fetch_cancel(r->cancel_other);
    }
    if (r->pause_in_data && r->data_calls == 1) {
        fetch_pause(f);
        r->paused = 1;
        event_base_once(base, -1, EV_TIMEOUT, resume_later, r, &tv);
    }
}

static void on_done(struct fetch *f, const struct fetch_result *res,
                    void *arg)
{
    struct rec *r = arg;

    r->done++;
    r->rc = res->rc;
    r->done_status = res->status;
    r->attempts = res->attempts;
    r->t_done = now_ms();
    assert_non_null(res->msg);
    copy_header(f, r->hdr_name, r->hdr_done);
    event_base_loopbreak(base);
}

static const struct fetch_cbs cbs = { on_headers, on_data, on_done };

static void give_up(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    fail_msg("the loop ran out of time");
}

/* A few calls' results may be alive at once. */
static char *url(const char *path)
{
    static char buf[8][256];
    static int i;
    char *u = buf[i++ % 8];

    snprintf(u, sizeof buf[0], "http://127.0.0.1:%d%s", port, path);
    return u;
}

/* Starts one transfer and runs the loop until its on_done. */
static void run(struct fetch_req *req, struct rec *r)
{
    struct timeval limit = { 10, 0 };
    struct event *guard = evtimer_new(base, give_up, NULL);

    evtimer_add(guard, &limit);
    r->t0 = now_ms();
    r->f = fetch_start(req, &cbs, r);
    assert_non_null(r->f);
    event_base_dispatch(base);
    event_free(guard);
    assert_int_equal(r->done, 1);
    assert_int_equal(r->data_before_headers, 0);
}

/* Runs the loop for ms. */
static void spin(int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

static struct rec *rec_new(void)
{
    struct rec *r = calloc(1, sizeof *r);
    assert_non_null(r);
    return r;
}

/* ---- tests ---- */

static void streams_in_pieces(void **state)
{
    struct rec *r = rec_new();
    struct fetch_req req = { .url = url("/stream?n=5&ms=40") };
    const char *want = "chunk-0\nchunk-1\nchunk-2\nchunk-3\nchunk-4\n";

    (void)state;
    run(&req, r);
    assert_int_equal(r->rc, FETCH_OK);
    assert_int_equal(r->headers, 1);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->attempts, 1);
    assert_true(r->data_calls >= 3);    /* 40 ms apart: not one read */
    assert_int_equal(r->len, strlen(want));
    assert_memory_equal(r->body, want, r->len);
    assert_int_equal(fetch_stats()->done[FETCH_OK], 1);
    assert_int_equal(fetch_stats()->active, 0);
    free(r);
}

static void post_body_and_headers(void **state)
{
    struct rec *r = rec_new();
    const size_t n = 100000;
    char *body = malloc(n);
    const char *hdrs[] = { "X-Test: hello", "Content-Type: text/plain",
                           NULL };
    struct fetch_req req = { .method = "POST", .url = url("/echo"),
                             .headers = hdrs, .body = body, .body_len = n,
                             .body_free = free };
    char *want = malloc(n);

    (void)state;
    for (size_t i = 0; i < n; i++)
        body[i] = want[i] = (char)('a' + i % 23);
    r->hdr_name = "x-echo-len";
    run(&req, r);
    assert_int_equal(r->rc, FETCH_OK);
    assert_int_equal(r->status, 201);
    assert_int_equal(r->done_status, 201);
    assert_string_equal(r->hdr, "100000");
    assert_string_equal(r->hdr_done, "100000");
    assert_int_equal(r->len, n);
    assert_memory_equal(r->body, want, n);
    free(want);
    free(r);
}

static int saw_method;
static void check_method(struct fetch *f, int status, void *arg)
{
    const void *it = NULL;
    const char *name, *value;

    (void)status, (void)arg;
    while ((it = fetch_header_next(f, it, &name, &value)) != NULL)
        if (strcasecmp(name, "X-Echo-Method") == 0)
            saw_method = strcmp(value, "PUT") == 0 ? 1 : -1;
    assert_string_equal(fetch_header(f, "x-echo-hdr"), "put");
    assert_null(fetch_header(f, "x-not-there"));
}

static void custom_method_copied_body(void **state)
{
    static const struct fetch_cbs put_cbs = { check_method, NULL, on_done };
    struct rec *r = rec_new();
    char body[] = "small body";
    const char *hdrs[] = { "X-Test: put", NULL };
    struct fetch_req req = { .method = "PUT", .url = url("/echo"),
                             .headers = hdrs, .body = body,
                             .body_len = strlen(body) };
    struct timeval limit = { 10, 0 };
    struct event *guard = evtimer_new(base, give_up, NULL);

    (void)state;
    saw_method = 0;
    assert_non_null(fetch_start(&req, &put_cbs, r));
    memset(body, 'x', sizeof body - 1);    /* copied: ours to reuse */
    evtimer_add(guard, &limit);
    event_base_dispatch(base);
    event_free(guard);
    assert_int_equal(r->done, 1);
    assert_int_equal(r->done_status, 201);
    assert_int_equal(saw_method, 1);
    free(r);
}

static int closed_port(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);          /* bound, never listened: connections are refused */
    return ntohs(sa.sin_port);
}

static void connect_refused(void **state)
{
    struct rec *r = rec_new();
    char u[64];
    struct fetch_req req = { .url = u, .max_retries = FETCH_NONE };

    (void)state;
    snprintf(u, sizeof u, "http://127.0.0.1:%d/", closed_port());
    run(&req, r);
    assert_int_equal(r->rc, FETCH_ECONNECT);
    assert_int_equal(r->attempts, 1);
    assert_int_equal(r->headers, 0);
    assert_int_equal(r->data_calls, 0);
    assert_int_equal(fetch_stats()->retries, 0);

    /* connection errors are retried, after the computed backoff */
    memset(r, 0, sizeof *r);
    req.max_retries = 1;
    run(&req, r);
    assert_int_equal(r->rc, FETCH_ECONNECT);
    assert_int_equal(r->attempts, 2);
    assert_int_equal(fetch_stats()->retries, 1);
    assert_true(r->t_done - r->t0 >= 370);      /* 500 ms x (1 - 0.25) */
    assert_int_equal(fetch_stats()->done[FETCH_ECONNECT], 2);
    free(r);
}

/* A listener whose accept queue is full: further SYNs are dropped, so
 * connecting hangs until the connect timeout. fds[0..2] to close. */
static int full_listener(int fds[3])
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t len = sizeof sa;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fds[0] = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(bind(fds[0], (struct sockaddr *)&sa, len), 0);
    assert_int_equal(listen(fds[0], 0), 0);
    assert_int_equal(getsockname(fds[0], (struct sockaddr *)&sa, &len), 0);
    for (int i = 1; i < 3; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fds[i], (struct sockaddr *)&sa, len);   /* EINPROGRESS */
    }
    spin(50);
    return ntohs(sa.sin_port);
}

static void connect_timeout(void **state)
{
    struct rec *r = rec_new();
    int fds[3];
    char u[64];
    struct fetch_req req = { .url = u, .connect_ms = 200,
                             .max_retries = 1 };

    (void)state;
    snprintf(u, sizeof u, "http://127.0.0.1:%d/", full_listener(fds));
    run(&req, r);
    assert_int_equal(r->rc, FETCH_ETIMEOUT_CONNECT);
    assert_int_equal(r->attempts, 2);           /* retried once */
    assert_in_range(r->t_done - r->t0, 2 * 195 + 370, 3000);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    free(r);
}

static void first_byte_timeout(void **state)
{
    struct rec *r = rec_new();
    struct fetch_req req = { .url = url("/stall"), .first_byte_ms = 200 };

    (void)state;
    run(&req, r);
    assert_int_equal(r->rc, FETCH_ETIMEOUT_FIRST_BYTE);
    assert_int_equal(r->headers, 0);
    assert_int_equal(r->attempts, 1);
    assert_in_range(r->t_done - r->t0, 195, 2000);
    free(r);
}

static void idle_timeout(void **state)
{
    struct rec *r = rec_new();
    struct fetch_req req = { .url = url("/stall-after-chunk"),
                             .idle_ms = 200 };

    (void)state;
    run(&req, r);
    assert_int_equal(r->rc, FETCH_ETIMEOUT_IDLE);
    assert_int_equal(r->headers, 1);
    assert_int_equal(r->done_status, 200);
    assert_string_equal(r->body, "chunk-0\n");
    assert_in_range(r->t_done - r->t0, 195, 2000);
    free(r);
}

static void total_timeout(void **state)
{
    struct rec *r = rec_new();
    struct fetch_req req = { .url = url("/stream?n=50&ms=30"),
                             .idle_ms = 100, .total_ms = 300 };

    (void)state;
    run(&req, r);
    assert_int_equal(r->rc, FETCH_ETIMEOUT_TOTAL);
    assert_true(r->data_calls >= 2);
    assert_in_range(r->t_done - r->t0, 295, 2000);
    free(r);
}

static void retries_503_then_ok(void **state)
{
    struct rec *r = rec_new();
    struct fetch_req req = { .method = "POST",
                             .url = url("/flaky?key=1&fail=1&status=503"),
                             .body = "hello", .body_len = 5 };

    (void)state;
    hits[1] = 0;
    run(&req, r);
    assert_int_equal(r->rc, FETCH_OK);
    assert_int_equal(hits[1], 2);
    assert_int_equal(r->attempts, 2);
    assert_int_equal(r->headers, 1);            /* the 503 was swallowed */
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "ok:5");       /* the body sent again */
    assert_true(r->t_done - r->t0 >= 370);      /* backoff, no header */
    assert_int_equal(fetch_stats()->retries, 1);
    free(r);
}

static void honours_retry_after(void **state)
{
    struct rec *r = rec_new();
    struct fetch_req req = {
        .url = url("/flaky?key=2&fail=2&status=503&ra_ms=50&ra=5") };

    (void)state;
    hits[2] = 0;
    r->hdr_name = "retry-after";
    run(&req, r);
    assert_int_equal(r->rc, FETCH_OK);
    assert_int_equal(hits[2], 3);
    assert_string_equal(r->hdr, "(none)");     /* not the 503's header */
    /* two 50 ms waits; the backoff would take at least 1125 ms */
    assert_true(r->t_done - r->t0 < 360);

    memset(r, 0, sizeof *r);
    hits[3] = 0;
    req.url = url("/flaky?key=3&fail=1&status=429&ra=1");
    run(&req, r);
    assert_int_equal(r->rc, FETCH_OK);
    assert_int_equal(hits[3], 2);
    assert_in_range(r->t_done - r->t0, 990, 3000);  /* retry-after: 1 s */
    free(r);
}

static void exhausted_429_is_delivered(void **state)
{
    struct rec *r = rec_new();
    struct fetch_req req = {
        .url = url("/flaky?key=4&fail=99&status=429&ra_ms=20&ra=7") };

    (void)state;
    hits[4] = 0;
    r->hdr_name = "retry-after";
    run(&req, r);
    assert_int_equal(hits[4], 3);               /* 1 + max_retries 2 */
    assert_int_equal(r->attempts, 3);
    assert_int_equal(r->rc, FETCH_EHTTP);
    assert_int_equal(r->headers, 1);
    assert_int_equal(r->status, 429);
    assert_int_equal(r->done_status, 429);
    assert_string_equal(r->hdr, "7");
    assert_string_equal(r->hdr_done, "7");
    assert_int_equal(r->len, strlen("error body"));
    assert_memory_equal(r->body, "error body", r->len);
    free(r);
}

static void no_retry_once_delivered(void **state)
{
    struct rec *r = rec_new();
    struct fetch_req req = { .url = url("/cut") };

    (void)state;
    cut_hits = 0;
    run(&req, r);
    assert_int_equal(r->rc, FETCH_ERECV);       /* cut after a chunk */
    assert_int_equal(cut_hits, 1);
    assert_int_equal(r->attempts, 1);
    assert_int_equal(r->headers, 1);
    assert_string_equal(r->body, "chunk-0\n");

    /* a status that is not retryable is delivered at once */
    memset(r, 0, sizeof *r);
    hits[5] = 0;
    req.url = url("/flaky?key=5&fail=1&status=400");
    run(&req, r);
    assert_int_equal(r->rc, FETCH_EHTTP);
    assert_int_equal(r->done_status, 400);
    assert_int_equal(hits[5], 1);
    assert_int_equal(fetch_stats()->retries, 0);
    free(r);
}

static void cancel_inside_callbacks(void **state)
{
    struct rec *a = rec_new(), *b = rec_new(), *c = rec_new();
    struct rec *d = rec_new(), *e = rec_new();
    struct fetch_req req = { .url = url("/stream?n=20&ms=20") };
    struct fetch_req breq = { .url = url("/burst") };

    (void)state;
    /* a cancels itself and b from its first on_data */
    a->cancel_in_data = 1;
    b->f = fetch_start(&req, &cbs, b);
    a->cancel_other = b->f;
    a->f = fetch_start(&req, &cbs, a);
    /* c cancels itself in on_headers; d is cancelled before it began */
    c->cancel_in_headers = 1;
    c->f = fetch_start(&req, &cbs, c);
    d->f = fetch_start(&req, &cbs, d);
    assert_non_null(a->f);
    assert_non_null(b->f);
    assert_non_null(c->f);
    assert_non_null(d->f);
    fetch_cancel(d->f);
    /* e cancels itself while more chunks wait in curl's buffer */
    e->cancel_in_data = 1;
    e->f = fetch_start(&breq, &cbs, e);
    assert_non_null(e->f);
    spin(400);
    assert_int_equal(e->data_calls, 1);
    assert_int_equal(e->done, 0);
    assert_string_equal(e->body, "burst-0\n");
    assert_int_equal(a->data_calls, 1);
    assert_int_equal(a->done, 0);
    assert_true(b->data_calls <= 1);
    assert_int_equal(b->done, 0);
    assert_int_equal(c->headers, 1);
    assert_int_equal(c->data_calls, 0);
    assert_int_equal(c->done, 0);
    assert_int_equal(d->headers + d->data_calls + d->done, 0);
    assert_int_equal(fetch_stats()->done[FETCH_ECANCELLED], 5);
    assert_int_equal(fetch_stats()->active, 0);
    free(a), free(b), free(c), free(d), free(e);
}

static void pause_and_resume(void **state)
{
    struct rec *r = rec_new();
    struct fetch_req req = { .url = url("/stream?n=8&ms=20"),
                             .idle_ms = 150 };
    char want[256] = "";

    (void)state;
    for (int i = 0; i < 8; i++)
        snprintf(want + strlen(want), sizeof want - strlen(want),
                 "chunk-%d\n", i);
    r->pause_in_data = 1;
    run(&req, r);
    /* paused 400 ms, longer than idle_ms: the idle clock was stopped */
    assert_int_equal(r->rc, FETCH_OK);
    assert_int_equal(r->data_while_paused, 0);
    assert_true(r->t_done - r->t0 >= 380);     /* libevent's cached clock */
    assert_int_equal(r->len, strlen(want));
    assert_memory_equal(r->body, want, r->len);
    free(r);
}

static void options_and_tls(void **state)
{
    struct rec *r = rec_new();
    struct fetch_opts o;
    char u[64];
    struct fetch_req req = { .url = u };

    (void)state;
    fetch_cleanup();
    fetch_opts_default(&o);
    o.http2 = 1;
    o.buffer_size = 4096;
    o.max_connects = 4;
    o.user_agent = "llmfork-test";
    o.ca_file = "/nonexistent/ca.pem";
    assert_int_equal(fetch_init(base, &o), 0);

    /* plain http under the h2 option: HTTP/1.1, streamed as before */
    snprintf(u, sizeof u, "http://127.0.0.1:%d/stream?n=3&ms=10", port);
    run(&req, r);
    assert_int_equal(r->rc, FETCH_OK);
    assert_int_equal(r->len, 3 * strlen("chunk-0\n"));

    /* TLS is verified with the configured CA file, which does not exist:
     * a connect error, not retried (it would fail the same way again) */
    memset(r, 0, sizeof *r);
    snprintf(u, sizeof u, "https://127.0.0.1:%d/", port);
    run(&req, r);
    assert_int_equal(r->rc, FETCH_ECONNECT);
    assert_int_equal(r->attempts, 1);
    assert_int_equal(r->headers, 0);
    free(r);
}

static void bad_requests(void **state)
{
    struct fetch_req req = { .url = NULL, .body = strdup("owned"),
                             .body_len = 5, .body_free = free };
    struct rec *r = rec_new();

    (void)state;
    /* refused at once; the body handed over is freed all the same */
    assert_null(fetch_start(&req, &cbs, r));
    assert_null(fetch_start(NULL, &cbs, r));
    req.url = "ftp://127.0.0.1/";
    req.body = NULL;                            /* freed by fetch_start */
    req.body_len = 0;
    req.body_free = NULL;
    run(&req, r);
    assert_int_equal(r->rc, FETCH_EINVAL);
    assert_int_equal(r->attempts, 1);
    free(r);
}

static void cleanup_ends_live_transfers(void **state)
{
    struct rec *r = rec_new();
    struct fetch_req req = { .url = url("/stream?n=50&ms=20") };

    (void)state;
    r->f = fetch_start(&req, &cbs, r);
    assert_non_null(r->f);
    spin(100);
    assert_true(r->data_calls >= 1);
    fetch_cleanup();
    assert_int_equal(r->done, 0);
    assert_int_equal(fetch_stats()->done[FETCH_ECANCELLED], 1);
    assert_int_equal(fetch_stats()->active, 0);
    assert_null(fetch_start(&req, &cbs, r));    /* no multi any more */
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(streams_in_pieces, setup, teardown),
        cmocka_unit_test_setup_teardown(post_body_and_headers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(custom_method_copied_body, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(connect_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(connect_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(first_byte_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(idle_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(total_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(retries_503_then_ok, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(honours_retry_after, setup, teardown),
        cmocka_unit_test_setup_teardown(exhausted_429_is_delivered, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(no_retry_once_delivered, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(cancel_inside_callbacks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(pause_and_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(options_and_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(cleanup_ends_live_transfers, setup,
                                        teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    log_set_level(LOG_LVL_WARNING);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
