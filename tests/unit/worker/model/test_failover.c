/* failover: weighted round-robin, cool-downs, the tried mask, items. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "worker/model/failover.h"

static void add(struct failover *fo, const char *item)
{
    char *url;
    int w;
    assert_int_equal(failover_item(item, &url, &w), 0);
    assert_int_equal(failover_add(fo, url, w), 0);
}

static void test_items(void **state)
{
    char *url;
    int w;
    (void)state;
    assert_int_equal(failover_item("https://a.example/*7", &url, &w), 0);
    assert_string_equal(url, "https://a.example");
    assert_int_equal(w, 7);
    free(url);
    assert_int_equal(failover_item("https://b", &url, &w), 0);
    assert_int_equal(w, 1);
    free(url);
    assert_int_equal(failover_item("https://b*0", &url, &w), -1);
    assert_int_equal(failover_item("https://b*x", &url, &w), -1);
    assert_int_equal(failover_item("*3", &url, &w), -1);
}

static void test_smooth_weights(void **state)
{
    struct failover fo = { 0 };
    char seq[9] = { 0 };
    (void)state;
    add(&fo, "https://a*3");
    add(&fo, "https://b");
    for (int i = 0; i < 8; i++)
        seq[i] = (char)('a' + failover_pick(&fo, 0, 0));
    assert_string_equal(seq, "aabaaaba"); /* 6:2, never b twice */
    failover_free(&fo);
}

static void test_cool_downs(void **state)
{
    struct failover fo = { 0 };
    long long wait;
    (void)state;
    add(&fo, "https://a");
    add(&fo, "https://b");
    failover_fail(&fo, 0, 1000, 429, "1500", "9", 0); /* ms header wins */
    assert_int_equal(failover_pick(&fo, 0, 1000), 1);
    assert_int_equal(failover_pick(&fo, 0, 2000), 1);
    assert_int_equal(failover_pick(&fo, 0, 2500), 0);
    failover_fail(&fo, 1, 3000, 429, NULL, NULL, 0); /* default */
    assert_int_equal(failover_pick(&fo, 0, 3000), 0);
    assert_int_equal(failover_pick(&fo, 1u, 3000), -1); /* a tried, b cool */
    failover_fail(&fo, 0, 3000, 503, NULL, NULL, 0);
    assert_int_equal(failover_pick(&fo, 0, 3000), -1);
    assert_int_equal(failover_soonest(&fo, 3000, &wait), 0);
    assert_int_equal(wait, FAILOVER_COOL_FAIL_MS);
    failover_fail(&fo, 1, 3000, 0, NULL, NULL, 0); /* no shortening */
    assert_int_equal(fo.ep[1].cool_until, 3000 + FAILOVER_COOL_429_MS);
    failover_free(&fo);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_items),
        cmocka_unit_test(test_smooth_weights),
        cmocka_unit_test(test_cool_downs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
