/* Tests for worker/fetch/fetch.c: timeouts and retries (connect errors,
 * retryable statuses, Retry-After, what is never retried); against the
 * in-process server of support/testsrv.c. */
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
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "worker/fetch/fetch.h"
#include "tests/unit/support/fetchrec.h"
#include "tests/unit/support/testsrv.h"

static int closed_port(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd); /* bound, never listened: connections are refused */
    return ntohs(sa.sin_port);
}

static void connect_refused(void **state)
{
    struct fetchrec *r = fetchrec_new();
    char u[64];
    struct fetch_req req = { .url = u, .max_retries = FETCH_NONE };

    (void)state;
    snprintf(u, sizeof u, "http://127.0.0.1:%d/", closed_port());
    fetchrec_run(&req, r);
    assert_int_equal(r->rc, FETCH_ECONNECT);
    assert_int_equal(r->attempts, 1);
    assert_int_equal(r->headers, 0);
    assert_int_equal(r->data_calls, 0);
    assert_int_equal(fetch_stats()->retries, 0);

    /* connection errors are retried, after the computed backoff */
    memset(r, 0, sizeof *r);
    req.max_retries = 1;
    fetchrec_run(&req, r);
    assert_int_equal(r->rc, FETCH_ECONNECT);
    assert_int_equal(r->attempts, 2);
    assert_int_equal(fetch_stats()->retries, 1);
    assert_true(r->t_done - r->t0 >= 370); /* 500 ms x (1 - 0.25) */
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
        (void)connect(fds[i], (struct sockaddr *)&sa, len); /* EINPROGRESS */
    }
    testsrv_spin(50);
    return ntohs(sa.sin_port);
}

static void connect_timeout(void **state)
{
    struct fetchrec *r = fetchrec_new();
    int fds[3];
    char u[64];
    struct fetch_req req = { .url = u, .connect_ms = 200, .max_retries = 1 };

    (void)state;
    snprintf(u, sizeof u, "http://127.0.0.1:%d/", full_listener(fds));
    fetchrec_run(&req, r);
    assert_int_equal(r->rc, FETCH_ETIMEOUT_CONNECT);
    assert_int_equal(r->attempts, 2); /* retried once */
    assert_in_range(r->t_done - r->t0, 2 * 195 + 370, 3000);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    free(r);
}

static void first_byte_timeout(void **state)
{
    struct fetchrec *r = fetchrec_new();
    struct fetch_req req = { .url = testsrv_url("/stall"),
                             .first_byte_ms = 200 };

    (void)state;
    fetchrec_run(&req, r);
    assert_int_equal(r->rc, FETCH_ETIMEOUT_FIRST_BYTE);
    assert_int_equal(r->headers, 0);
    assert_int_equal(r->attempts, 1);
    assert_in_range(r->t_done - r->t0, 195, 2000);
    free(r);
}

static void idle_timeout(void **state)
{
    struct fetchrec *r = fetchrec_new();
    struct fetch_req req = { .url = testsrv_url("/stall-after-chunk"),
                             .idle_ms = 200 };

    (void)state;
    fetchrec_run(&req, r);
    assert_int_equal(r->rc, FETCH_ETIMEOUT_IDLE);
    assert_int_equal(r->headers, 1);
    assert_int_equal(r->done_status, 200);
    assert_string_equal(r->body, "chunk-0\n");
    assert_in_range(r->t_done - r->t0, 195, 2000);
    free(r);
}

static void total_timeout(void **state)
{
    struct fetchrec *r = fetchrec_new();
    struct fetch_req req = { .url = testsrv_url("/stream?n=50&ms=30"),
                             .idle_ms = 100,
                             .total_ms = 300 };

    (void)state;
    fetchrec_run(&req, r);
    assert_int_equal(r->rc, FETCH_ETIMEOUT_TOTAL);
    assert_true(r->data_calls >= 2);
    assert_in_range(r->t_done - r->t0, 295, 2000);
    free(r);
}

static void retries_503_then_ok(void **state)
{
    struct fetchrec *r = fetchrec_new();
    struct fetch_req req = { .method = "POST",
                             .url = testsrv_url(
                                 "/flaky?key=1&fail=1&status=503"),
                             .body = "hello",
                             .body_len = 5 };

    (void)state;
    fetchrec_run(&req, r);
    assert_int_equal(r->rc, FETCH_OK);
    assert_int_equal(testsrv_hits(1), 2);
    assert_int_equal(r->attempts, 2);
    assert_int_equal(r->headers, 1); /* the 503 was swallowed */
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "ok:5");  /* the body sent again */
    assert_true(r->t_done - r->t0 >= 370); /* backoff, no header */
    assert_int_equal(fetch_stats()->retries, 1);
    free(r);
}

static void honours_retry_after(void **state)
{
    struct fetchrec *r = fetchrec_new();
    struct fetch_req req = {
        .url = testsrv_url("/flaky?key=2&fail=2&status=503&ra_ms=50&ra=5")
    };

    (void)state;
    r->hdr_name = "retry-after";
    fetchrec_run(&req, r);
    assert_int_equal(r->rc, FETCH_OK);
    assert_int_equal(testsrv_hits(2), 3);
    assert_string_equal(r->hdr, "(none)"); /* not the 503's header */
    /* two 50 ms waits; the backoff would take at least 1125 ms */
    assert_true(r->t_done - r->t0 < 360);

    memset(r, 0, sizeof *r);
    req.url = testsrv_url("/flaky?key=3&fail=1&status=429&ra=1");
    fetchrec_run(&req, r);
    assert_int_equal(r->rc, FETCH_OK);
    assert_int_equal(testsrv_hits(3), 2);
    assert_in_range(r->t_done - r->t0, 990, 3000); /* retry-after: 1 s */
    free(r);
}

static void exhausted_429_is_delivered(void **state)
{
    struct fetchrec *r = fetchrec_new();
    struct fetch_req req = {
        .url = testsrv_url("/flaky?key=4&fail=99&status=429&ra_ms=20&ra=7")
    };

    (void)state;
    r->hdr_name = "retry-after";
    fetchrec_run(&req, r);
    assert_int_equal(testsrv_hits(4), 3); /* 1 + max_retries 2 */
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
    struct fetchrec *r = fetchrec_new();
    struct fetch_req req = { .url = testsrv_url("/cut") };

    (void)state;
    fetchrec_run(&req, r);
    assert_int_equal(r->rc, FETCH_ERECV); /* cut after a chunk */
    assert_int_equal(testsrv_cut_hits(), 1);
    assert_int_equal(r->attempts, 1);
    assert_int_equal(r->headers, 1);
    assert_string_equal(r->body, "chunk-0\n");

    /* a status that is not retryable is delivered at once */
    memset(r, 0, sizeof *r);
    req.url = testsrv_url("/flaky?key=5&fail=1&status=400");
    fetchrec_run(&req, r);
    assert_int_equal(r->rc, FETCH_EHTTP);
    assert_int_equal(r->done_status, 400);
    assert_int_equal(testsrv_hits(5), 1);
    assert_int_equal(fetch_stats()->retries, 0);
    free(r);
}

/* Each test on a fresh loop, server and fetch multi. */
#define T(fn) cmocka_unit_test_setup_teardown(fn, testsrv_setup, \
                                              testsrv_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(connect_refused),
        T(connect_timeout),
        T(first_byte_timeout),
        T(idle_timeout),
        T(total_timeout),
        T(retries_503_then_ok),
        T(honours_retry_after),
        T(exhausted_429_is_delivered),
        T(no_retry_once_delivered),
    };

    int rc;

    signal(SIGPIPE, SIG_IGN);
    log_set_level(LOG_LVL_WARNING);
    rc = cmocka_run_group_tests_name("fetch on h1", tests, NULL, NULL);
    testsrv_native = 0;
    return rc | cmocka_run_group_tests_name("fetch on libcurl", tests, NULL,
                                            NULL);
}
