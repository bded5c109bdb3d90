/* The recording fetch client of the unit tests: see fetchrec.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "tests/unit/support/fetchrec.h"
#include "tests/unit/support/testsrv.h"

int64_t fetchrec_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void copy_header(struct fetch *f, const char *name, char *to)
{
    const char *v = name != NULL ? fetch_header(f, name) : NULL;
    snprintf(to, 64, "%s", v != NULL ? v : "(none)");
}

static void on_headers(struct fetch *f, int status, void *arg)
{
    struct fetchrec *r = arg;

    r->headers++;
    r->status = status;
    assert_int_equal(fetch_status(f), status);
    copy_header(f, r->hdr_name, r->hdr);
    if (r->cancel_in_headers)
        fetch_cancel(f);
}

static void resume_later(evutil_socket_t fd, short what, void *arg)
{
    struct fetchrec *r = arg;

    (void)fd, (void)what;
    r->paused = 0;
    fetch_resume(r->f);
}

static void on_data(struct fetch *f, const char *p, size_t n, void *arg)
{
    struct fetchrec *r = arg;
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
        event_base_once(testsrv_base, -1, EV_TIMEOUT, resume_later, r, &tv);
    }
}

void fetchrec_on_done(struct fetch *f, const struct fetch_result *res,
                      void *arg)
{
    struct fetchrec *r = arg;

    r->done++;
    r->rc = res->rc;
    r->done_status = res->status;
    r->attempts = res->attempts;
    r->t_done = fetchrec_now_ms();
    assert_non_null(res->msg);
    copy_header(f, r->hdr_name, r->hdr_done);
    event_base_loopbreak(testsrv_base);
}

const struct fetch_cbs fetchrec_cbs = { on_headers, on_data,
                                        fetchrec_on_done };

static void give_up(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    fail_msg("the loop ran out of time");
}

void fetchrec_loop(void)
{
    struct timeval limit = { 10, 0 };
    struct event *guard = evtimer_new(testsrv_base, give_up, NULL);

    assert_non_null(guard);
    evtimer_add(guard, &limit);
    event_base_dispatch(testsrv_base);
    event_free(guard);
}

void fetchrec_run(struct fetch_req *req, struct fetchrec *r)
{
    r->t0 = fetchrec_now_ms();
    r->f = fetch_start(req, &fetchrec_cbs, r);
    assert_non_null(r->f);
    fetchrec_loop();
    assert_int_equal(r->done, 1);
    assert_int_equal(r->data_before_headers, 0);
}

struct fetchrec *fetchrec_new(void)
{
    struct fetchrec *r = calloc(1, sizeof *r);

    assert_non_null(r);
    return r;
}
