/* Unit tests for worker/fetch/retry.c: which statuses retry, header parsing and
 * the delay policy (the OpenAI SDKs' numbers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker/fetch/retry.h"

static void statuses(void **state)
{
    static const int yes[] = { 408, 409, 429, 500, 502, 503, 504 };
    static const int no[] = { 200, 201, 204, 301, 400, 401, 403, 404,
                              413, 422, 501, 505 };
    (void)state;
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_int_equal(retry_status(yes[i], NULL), 1);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_int_equal(retry_status(no[i], NULL), 0);
}

static void should_retry_header_wins(void **state)
{
    (void)state;
    assert_int_equal(retry_status(400, "true"), 1);
    assert_int_equal(retry_status(400, "TRUE"), 1);
    assert_int_equal(retry_status(503, "false"), 0);
    assert_int_equal(retry_status(503, "maybe"), 1);
    assert_int_equal(retry_status(400, "maybe"), 0);
}

static void after_ms(void **state)
{
    (void)state;
    assert_int_equal(retry_after_ms_parse("1500"), 1500);
    assert_int_equal(retry_after_ms_parse(" 20 "), 20);
    assert_int_equal(retry_after_ms_parse("12.9"), 12);
    assert_int_equal(retry_after_ms_parse("0"), 0);
    assert_int_equal(retry_after_ms_parse(NULL), -1);
    assert_int_equal(retry_after_ms_parse(""), -1);
    assert_int_equal(retry_after_ms_parse("-5"), -1);
    assert_int_equal(retry_after_ms_parse("10ms"), -1);
    assert_int_equal(retry_after_ms_parse("abc"), -1);
    assert_true(retry_after_ms_parse("99999999999999999999999") > 0);
}

static void after_seconds_and_dates(void **state)
{
    /* Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example date */
    const time_t t0 = 784111777;
    (void)state;
    assert_int_equal(retry_after_parse("2", t0), 2000);
    assert_int_equal(retry_after_parse("0.5", t0), 500);
    assert_int_equal(retry_after_parse("Sun, 06 Nov 1994 08:49:47 GMT", t0),
                     10000);
    /* obsolete RFC 850 and asctime forms */
    assert_int_equal(retry_after_parse("Sunday, 06-Nov-94 08:49:40 GMT", t0),
                     3000);
    assert_int_equal(retry_after_parse("Sun Nov  6 08:49:39 1994", t0), 2000);
    assert_int_equal(retry_after_parse("Sun, 06 Nov 1994 08:49:00 GMT", t0),
                     0);
    assert_int_equal(retry_after_parse(NULL, t0), -1);
    assert_int_equal(retry_after_parse("soon", t0), -1);
    assert_int_equal(retry_after_parse("", t0), -1);
}

static void backoff(void **state)
{
    (void)state;
    assert_int_equal(retry_backoff_ms(0, 0.0), 500);
    assert_int_equal(retry_backoff_ms(1, 0.0), 1000);
    assert_int_equal(retry_backoff_ms(2, 0.0), 2000);
    assert_int_equal(retry_backoff_ms(4, 0.0), 8000);
    assert_int_equal(retry_backoff_ms(5, 0.0), 8000);
    assert_int_equal(retry_backoff_ms(1000, 0.0), 8000);
    /* jitter removes up to a quarter */
    assert_int_equal(retry_backoff_ms(0, 0.5), 437);
    assert_int_equal(retry_backoff_ms(3, 0.999), 3001);
    for (int n = 0; n < 8; n++)
        for (int k = 0; k < 8; k++) {
            long ms = retry_backoff_ms(n, k * 0.125);
            assert_true(ms > 0 && ms <= RETRY_MAX_DELAY_MS);
            assert_true(ms >= retry_backoff_ms(n, 0) * 3 / 4);
        }
}

static void policy(void **state)
{
    const time_t now = 784111777;
    (void)state;
    /* retry-after-ms first, then retry-after, else backoff */
    assert_int_equal(retry_delay_ms("250", "7", 0, now, 0), 250);
    assert_int_equal(retry_delay_ms(NULL, "7", 0, now, 0), 7000);
    assert_int_equal(retry_delay_ms("bad", "3", 0, now, 0), 3000);
    assert_int_equal(retry_delay_ms(NULL, NULL, 2, now, 0), 2000);
    /* unreasonable or zero server waits fall back to the backoff */
    assert_int_equal(retry_delay_ms("60001", NULL, 0, now, 0), 500);
    assert_int_equal(retry_delay_ms(NULL, "3600", 1, now, 0), 1000);
    assert_int_equal(retry_delay_ms("0", "5", 0, now, 0), 500);
    assert_int_equal(retry_delay_ms(NULL, "60", 0, now, 0), 60000);
    assert_int_equal(
        retry_delay_ms(NULL, "Sun, 06 Nov 1994 08:49:42 GMT", 0, now, 0),
        5000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(statuses),
        cmocka_unit_test(should_retry_header_wins),
        cmocka_unit_test(after_ms),
        cmocka_unit_test(after_seconds_and_dates),
        cmocka_unit_test(backoff),
        cmocka_unit_test(policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
