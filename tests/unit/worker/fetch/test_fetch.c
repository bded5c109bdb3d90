/* Tests for worker/fetch/fetch.c: streaming, bodies and headers, cancel and
 * pause from inside callbacks, options, cleanup; against the in-process
 * server of support/testsrv.c (real sockets, one loop, as in a worker).
 * Timeouts and retries are in test_fetch_retry.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "common/log.h"
#include "worker/fetch/fetch.h"
#include "worker/fetch/fetch_easy.h"
#include "tests/unit/support/fetchrec.h"
#include "tests/unit/support/testsrv.h"

static void streams_in_pieces(void **state)
{
    struct fetchrec *r = fetchrec_new();
    struct fetch_req req = { .url = testsrv_url("/stream?n=5&ms=40") };
    const char *want = "chunk-0\nchunk-1\nchunk-2\nchunk-3\nchunk-4\n";

    (void)state;
    fetchrec_run(&req, r);
    assert_int_equal(r->rc, FETCH_OK);
    assert_int_equal(r->headers, 1);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->attempts, 1);
    assert_true(r->data_calls >= 3); /* 40 ms apart: not one read */
    assert_int_equal(r->len, strlen(want));
    assert_memory_equal(r->body, want, r->len);
    assert_int_equal(fetch_stats()->done[FETCH_OK], 1);
    assert_int_equal(fetch_stats()->active, 0);
    free(r);
}

static void post_body_and_headers(void **state)
{
    struct fetchrec *r = fetchrec_new();
    const size_t n = 100000;
    char *body = malloc(n);
    const char *hdrs[] = { "X-Test: hello", "Content-Type: text/plain",
                           NULL };
    struct fetch_req req = { .method = "POST", .url = testsrv_url("/echo"), .headers = hdrs, .body = body, .body_len = n, .body_free = free };
    char *want = malloc(n);

    (void)state;
    for (size_t i = 0; i < n; i++)
        body[i] = want[i] = (char)('a' + i % 23);
    r->hdr_name = "x-echo-len";
    fetchrec_run(&req, r);
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
    static const struct fetch_cbs put_cbs = { check_method, NULL,
                                              fetchrec_on_done };
    struct fetchrec *r = fetchrec_new();
    char body[] = "small body";
    const char *hdrs[] = { "X-Test: put", NULL };
    struct fetch_req req = { .method = "PUT", .url = testsrv_url("/echo"), .headers = hdrs, .body = body, .body_len = strlen(body) };

    (void)state;
    saw_method = 0;
    assert_non_null(fetch_start(&req, &put_cbs, r));
    memset(body, 'x', sizeof body - 1); /* copied: ours to reuse */
    fetchrec_loop();
    assert_int_equal(r->done, 1);
    assert_int_equal(r->done_status, 201);
    assert_int_equal(saw_method, 1);
    free(r);
}

static void cancel_inside_callbacks(void **state)
{
    struct fetchrec *a = fetchrec_new(), *b = fetchrec_new();
    struct fetchrec *c = fetchrec_new(), *d = fetchrec_new();
    struct fetchrec *e = fetchrec_new();
    struct fetch_req req = { .url = testsrv_url("/stream?n=20&ms=20") };
    struct fetch_req breq = { .url = testsrv_url("/burst") };

    (void)state;
    /* a cancels itself and b from its first on_data */
    a->cancel_in_data = 1;
    b->f = fetch_start(&req, &fetchrec_cbs, b);
    a->cancel_other = b->f;
    a->f = fetch_start(&req, &fetchrec_cbs, a);
    /* c cancels itself in on_headers; d is cancelled before it began */
    c->cancel_in_headers = 1;
    c->f = fetch_start(&req, &fetchrec_cbs, c);
    d->f = fetch_start(&req, &fetchrec_cbs, d);
    assert_non_null(a->f);
    assert_non_null(b->f);
    assert_non_null(c->f);
    assert_non_null(d->f);
    fetch_cancel(d->f);
    /* e cancels itself while more chunks wait in curl's buffer */
    e->cancel_in_data = 1;
    e->f = fetch_start(&breq, &fetchrec_cbs, e);
    assert_non_null(e->f);
    testsrv_spin(400);
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
    struct fetchrec *r = fetchrec_new();
    struct fetch_req req = { .url = testsrv_url("/stream?n=8&ms=20"),
                             .idle_ms = 150 };
    char want[256] = "";

    (void)state;
    for (int i = 0; i < 8; i++)
        snprintf(want + strlen(want), sizeof want - strlen(want),
                 "chunk-%d\n", i);
    r->pause_in_data = 1;
    fetchrec_run(&req, r);
    /* paused 400 ms, longer than idle_ms: the idle clock was stopped */
    assert_int_equal(r->rc, FETCH_OK);
    assert_int_equal(r->data_while_paused, 0);
    assert_true(r->t_done - r->t0 >= 380); /* libevent's cached clock */
    assert_int_equal(r->len, strlen(want));
    assert_memory_equal(r->body, want, r->len);
    free(r);
}

static void options_and_tls(void **state)
{
    struct fetchrec *r = fetchrec_new();
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
    assert_int_equal(fetch_init(testsrv_base, &o), 0);

    /* plain http under the h2 option: HTTP/1.1, streamed as before */
    snprintf(u, sizeof u, "http://127.0.0.1:%d/stream?n=3&ms=10",
             testsrv_port());
    fetchrec_run(&req, r);
    assert_int_equal(r->rc, FETCH_OK);
    assert_int_equal(r->len, 3 * strlen("chunk-0\n"));

    /* TLS is verified with the configured CA file, which does not exist:
     * a connect error, not retried (it would fail the same way again) */
    memset(r, 0, sizeof *r);
    snprintf(u, sizeof u, "https://127.0.0.1:%d/", testsrv_port());
    fetchrec_run(&req, r);
    assert_int_equal(r->rc, FETCH_ECONNECT);
    assert_int_equal(r->attempts, 1);
    assert_int_equal(r->headers, 0);
    free(r);
}

static void bad_requests(void **state)
{
    struct fetch_req req = { .url = NULL, .body = strdup("owned"), .body_len = 5, .body_free = free };
    struct fetchrec *r = fetchrec_new();

    (void)state;
    /* refused at once; the body handed over is freed all the same */
    assert_null(fetch_start(&req, &fetchrec_cbs, r));
    assert_null(fetch_start(NULL, &fetchrec_cbs, r));
    req.url = "ftp://127.0.0.1/";
    req.body = NULL; /* freed by fetch_start */
    req.body_len = 0;
    req.body_free = NULL;
    fetchrec_run(&req, r);
    assert_int_equal(r->rc, FETCH_EINVAL);
    assert_int_equal(r->attempts, 1);
    free(r);
}

static void cleanup_ends_live_transfers(void **state)
{
    struct fetchrec *r = fetchrec_new();
    struct fetch_req req = { .url = testsrv_url("/stream?n=50&ms=20") };

    (void)state;
    r->f = fetch_start(&req, &fetchrec_cbs, r);
    assert_non_null(r->f);
    testsrv_spin(100);
    assert_true(r->data_calls >= 1);
    fetch_cleanup();
    assert_int_equal(r->done, 0);
    assert_int_equal(fetch_stats()->done[FETCH_ECANCELLED], 1);
    assert_int_equal(fetch_stats()->active, 0);
    assert_null(fetch_start(&req, &fetchrec_cbs, r)); /* no multi now */
    free(r);
}

/* A held stream keeps no request: the body goes once the head is in and
 * the body was sent, while the stream still runs. */
static struct fetchrec *freed_rec;
static int freed_at_done = -1, freed_at_data = -1;

static void note_free(void *p)
{
    freed_at_done = freed_rec->done;
    freed_at_data = freed_rec->data_calls;
    free(p);
}

static void request_freed_once_head_delivered(void **state)
{
    struct fetchrec *r = fetchrec_new();
    char *body = strdup("{\"stream\":true}");
    const char *hdrs[] = { "X-Test: hello", NULL };
    struct fetch_req req = { .method = "POST",
                             .url = testsrv_url("/stream?n=5&ms=40"),
                             .headers = hdrs,
                             .body = body,
                             .body_len = strlen(body),
                             .body_free = note_free };

    (void)state;
    assert_non_null(body);
    freed_rec = r;
    fetchrec_run(&req, r);
    assert_int_equal(r->rc, FETCH_OK);
    assert_int_equal(r->len, strlen("chunk-0\n") * 5);
    /* while the stream ran, before its first body piece */
    assert_int_equal(freed_at_done, 0);
    assert_int_equal(freed_at_data, 0);
    free(r);
}

/* n transfers at once, run to their ends (their handles back in the
 * pool). */
static void run_batch(int n)
{
    struct fetchrec *r[8];
    struct fetch_req req = { .url = testsrv_url("/stream?n=2&ms=20") };
    int done;

    assert_true(n <= 8);
    for (int i = 0; i < n; i++) {
        r[i] = fetchrec_new();
        r[i]->f = fetch_start(&req, &fetchrec_cbs, r[i]);
        assert_non_null(r[i]->f);
    }
    do {
        fetchrec_loop();
        done = 0;
        for (int i = 0; i < n; i++)
            done += r[i]->done;
    } while (done < n);
    for (int i = 0; i < n; i++) {
        assert_int_equal(r[i]->rc, FETCH_OK);
        free(r[i]);
    }
}

/* The handle pool keeps what a batch gave back, and each trim frees only
 * the handles no transfer took since the trim before. */
static void pool_follows_load(void **state)
{
    (void)state;
    run_batch(8);
    assert_int_equal(fetch_easy_trim(), 0); /* all 8 were just used */
    run_batch(3);
    assert_int_equal(fetch_easy_trim(), 5); /* 5 idle throughout */
    assert_int_equal(fetch_easy_trim(), 3);
    assert_int_equal(fetch_easy_trim(), 0); /* empty */
    run_batch(2);
    assert_int_equal(fetch_stats()->active, 0);
}

/* Each test on a fresh loop, server and fetch multi. */
#define T(fn) cmocka_unit_test_setup_teardown(fn, testsrv_setup, \
                                              testsrv_teardown)

int main(void)
{
#define BOTH_WAYS                       \
    T(streams_in_pieces),               \
        T(post_body_and_headers),       \
        T(custom_method_copied_body),   \
        T(cancel_inside_callbacks),     \
        T(pause_and_resume),            \
        T(options_and_tls),             \
        T(bad_requests),                \
        T(cleanup_ends_live_transfers), \
        T(request_freed_once_head_delivered)
    const struct CMUnitTest native[] = { BOTH_WAYS };
    /* the handle pool is libcurl's side only */
    const struct CMUnitTest curl[] = { BOTH_WAYS, T(pool_follows_load) };
    int rc;

    signal(SIGPIPE, SIG_IGN);
    log_set_level(LOG_LVL_WARNING);
    rc = cmocka_run_group_tests_name("fetch on h1", native, NULL, NULL);
    testsrv_native = 0;
    return rc | cmocka_run_group_tests_name("fetch on libcurl", curl, NULL,
                                            NULL);
}
