/* Unit tests for worker/forwarded.c: who the client is behind a proxy. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/cfg.h"
#include "worker/forwarded.h"

static char *dflt_v[] = { "127.0.0.1", "::1" };
static const struct cfg_list dflt = { dflt_v, 2 };
static char *nets_v[] = { "10.0.0.0/8", "fd00::/8", "192.168.1.7" };
static const struct cfg_list nets = { nets_v, 3 };
static char *star_v[] = { "*" };
static const struct cfg_list star = { star_v, 1 };

static const char *client(const struct cfg_list *l, const char *peer,
                          const char *xff)
{
    static char out[64];
    strcpy(out, "(peer)");
    forwarded_client(l, peer, xff, out, sizeof(out));
    return out;
}

static void test_trusted(void **state)
{
    (void)state;
    assert_true(forwarded_trusted(&dflt, "127.0.0.1"));
    assert_true(forwarded_trusted(&dflt, "::1"));
    assert_false(forwarded_trusted(&dflt, "127.0.0.2"));
    assert_true(forwarded_trusted(&nets, "10.200.3.4"));
    assert_false(forwarded_trusted(&nets, "11.0.0.1"));
    assert_true(forwarded_trusted(&nets, "fd12::5"));
    assert_false(forwarded_trusted(&nets, "fe80::1"));
    assert_true(forwarded_trusted(&nets, "192.168.1.7"));
    assert_false(forwarded_trusted(&nets, "192.168.1.8"));
    assert_true(forwarded_trusted(&star, "8.8.8.8"));
    assert_true(forwarded_trusted(&dflt, "unix"));
    assert_false(forwarded_trusted(&dflt, "not-an-ip"));
}

static void test_client(void **state)
{
    (void)state;
    assert_string_equal(client(&dflt, "127.0.0.1", "203.0.113.9"), "203.0.113.9");
    /* an untrusted peer is not believed */
    assert_string_equal(client(&dflt, "198.51.100.1", "203.0.113.9"), "(peer)");
    assert_string_equal(client(&dflt, "127.0.0.1", NULL), "(peer)");
    /* the rightmost untrusted hop: the client cannot spoof past nginx */
    assert_string_equal(client(&nets, "10.0.0.2", "6.6.6.6, 203.0.113.9 ,10.1.1.1"),
                        "203.0.113.9");
    /* all trusted: the leftmost */
    assert_string_equal(client(&nets, "10.0.0.2", "10.9.9.9, 10.1.1.1"), "10.9.9.9");
    assert_string_equal(client(&dflt, "::1", "2001:db8::1"), "2001:db8::1");
    /* garbage anywhere on the path: keep the peer */
    assert_string_equal(client(&dflt, "127.0.0.1", "evil\r\n, 1.2.3.4"), "1.2.3.4");
    assert_string_equal(client(&dflt, "127.0.0.1", "1.2.3.4, evil"), "(peer)");
    assert_string_equal(client(&dflt, "127.0.0.1", ""), "(peer)");
    assert_string_equal(client(&dflt, "127.0.0.1", " , "), "(peer)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trusted),
        cmocka_unit_test(test_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
