/* Unit tests for worker/apptimer: a timer fires once per arming, a
 * stopped one does not, re-arming moves it, 0 ms runs on the next loop
 * turn, and none can be made before the loop is given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/event.h>

#include "worker/apptimer.h"

static struct event_base *base;

static void count(void *arg)
{
    ++*(int *)arg;
}

static void test_fires_once_per_arming(void **state)
{
    int n = 0, m = 0;
    struct app_timer *t, *u;

    (void)state;
    app_timer_loop(NULL);
    assert_null(app_timer_new(count, &n));
    base = event_base_new();
    app_timer_loop(base);
    t = app_timer_new(count, &n);
    u = app_timer_new(count, &m);
    assert_non_null(t);
    assert_non_null(u);
    assert_false(app_timer_armed(t));
    assert_int_equal(app_timer_after(t, 0), 0);
    assert_int_equal(app_timer_after(u, 5), 0);
    app_timer_stop(u); /* stopped: never fires */
    assert_true(app_timer_armed(t));
    event_base_dispatch(base); /* returns once nothing is armed */
    assert_int_equal(n, 1);
    assert_int_equal(m, 0);
    assert_false(app_timer_armed(t));
    assert_int_equal(app_timer_after(t, 20), 0);
    assert_int_equal(app_timer_after(t, 1), 0); /* re-armed: once */
    event_base_dispatch(base);
    assert_int_equal(n, 2);
    app_timer_free(t);
    app_timer_free(u);
    app_timer_free(NULL);
    app_timer_loop(NULL);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fires_once_per_arming),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
