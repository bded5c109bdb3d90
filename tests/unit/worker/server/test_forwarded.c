/* Unit tests for worker/server/forwarded.c: who the client is behind a proxy. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/cfg.h"
#include "worker/server/forwarded.h"

static char *dflt_v[] = { "127.0.0.1", "::1" };
static const struct cfg_list dflt = { dflt_v, 2 };
static char *nets_v[] = { "10.0.0.0/8", "fd00::/8", "192.168.1.7" };
static const struct cfg_list nets = { nets_v, 3 };
static char *star_v[] = { "*" };
static const struct cfg_list star = { star_v, 1 };

static void test_trusted(void **state)
{
    static const struct {
        const struct cfg_list *l;
        const char *ip;
        int want;
    } t[] = {
        { &dflt, "127.0.0.1", 1 },
        { &dflt, "::1", 1 },
        { &dflt, "127.0.0.2", 0 },
        { &nets, "10.200.3.4", 1 },
        { &nets, "11.0.0.1", 0 },
        { &nets, "fd12::5", 1 },
        { &nets, "fe80::1", 0 },
        { &nets, "192.168.1.7", 1 },
        { &nets, "192.168.1.8", 0 },
        { &star, "8.8.8.8", 1 },
        { &dflt, "unix", 1 },
        { &dflt, "not-an-ip", 0 },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (!forwarded_trusted(t[i].l, t[i].ip) != !t[i].want)
            fail_msg("forwarded_trusted(%s) is not %d", t[i].ip, t[i].want);
}

static void test_client(void **state)
{
    static const struct {
        const struct cfg_list *l;
        const char *peer, *xff, *want; /* "(peer)": the peer is kept */
    } t[] = {
        { &dflt, "127.0.0.1", "203.0.113.9", "203.0.113.9" },
        /* an untrusted peer is not believed */
        { &dflt, "198.51.100.1", "203.0.113.9", "(peer)" },
        { &dflt, "127.0.0.1", NULL, "(peer)" },
        /* the rightmost untrusted hop: the client cannot spoof past nginx */
        { &nets, "10.0.0.2", "6.6.6.6, 203.0.113.9 ,10.1.1.1", "203.0.113.9" },
        /* all trusted: the leftmost */
        { &nets, "10.0.0.2", "10.9.9.9, 10.1.1.1", "10.9.9.9" },
        { &dflt, "::1", "2001:db8::1", "2001:db8::1" },
        /* garbage anywhere on the path: keep the peer */
        { &dflt, "127.0.0.1", "evil\r\n, 1.2.3.4", "1.2.3.4" },
        { &dflt, "127.0.0.1", "1.2.3.4, evil", "(peer)" },
        { &dflt, "127.0.0.1", "", "(peer)" },
        { &dflt, "127.0.0.1", " , ", "(peer)" },
    };
    char out[64];

    (void)state;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        strcpy(out, "(peer)");
        forwarded_client(t[i].l, t[i].peer, t[i].xff, out, sizeof(out));
        assert_string_equal(out, t[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trusted),
        cmocka_unit_test(test_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
