/* addr_parse / addr_check / addr_peer_text: every accepted form and the
 * reason given for each kind of bad one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "common/addr.h"

static void assert_tcp(const char *in, int family, const char *text)
{
    struct addr a;
    char err[128] = "";

    if (addr_parse(in, &a, err, sizeof(err)) != 0)
        fail_msg("'%s' rejected: %s", in, err);
    assert_int_equal(a.kind, ADDR_TCP);
    assert_int_equal(a.ss.ss_family, family);
    assert_string_equal(a.text, text);
    assert_int_equal(a.len, family == AF_INET ? sizeof(struct sockaddr_in)
                                              : sizeof(struct sockaddr_in6));
}

static void assert_bad(const char *in, const char *reason)
{
    struct addr a;
    char err[256] = "";

    assert_int_equal(addr_parse(in, &a, err, sizeof(err)), -1);
    assert_string_equal(err, reason);
    err[0] = '\0';
    assert_int_equal(addr_check(in, err, sizeof(err)), -1);
    assert_string_equal(err, reason);
}

static void test_tcp_forms(void **state)
{
    (void)state;
    assert_tcp("127.0.0.1:8000", AF_INET, "127.0.0.1:8000");
    assert_tcp("0.0.0.0:80", AF_INET, "0.0.0.0:80");
    assert_tcp("8080", AF_INET, "127.0.0.1:8080");
    assert_tcp(":9000", AF_INET, "0.0.0.0:9000");
    assert_tcp("localhost:1", AF_INET, "127.0.0.1:1");
    assert_tcp("[::1]:8000", AF_INET6, "[::1]:8000");
    assert_tcp("[::]:65535", AF_INET6, "[::]:65535");
    assert_tcp("tcp://10.1.2.3:0", AF_INET, "10.1.2.3:0");

    struct addr a;
    char err[64];
    assert_int_equal(addr_parse("[::1]:4321", &a, err, sizeof(err)), 0);
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a.ss;
    assert_int_equal(ntohs(s6->sin6_port), 4321);
    assert_true(IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr));
    assert_int_equal(addr_parse("192.168.1.9:80", &a, err, sizeof(err)), 0);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&a.ss;
    assert_int_equal(ntohs(s4->sin_port), 80);
    assert_int_equal(ntohl(s4->sin_addr.s_addr), 0xc0a80109);
}

static void test_unix_and_fd(void **state)
{
    (void)state;
    struct addr a;
    char err[128];

    assert_int_equal(addr_parse("unix:/run/llmfork.sock", &a, err, sizeof(err)), 0);
    assert_int_equal(a.kind, ADDR_UNIX);
    assert_string_equal(a.text, "unix:/run/llmfork.sock");
    struct sockaddr_un *sun = (struct sockaddr_un *)&a.ss;
    assert_int_equal(sun->sun_family, AF_UNIX);
    assert_string_equal(sun->sun_path, "/run/llmfork.sock");
    assert_int_equal(a.len, offsetof(struct sockaddr_un, sun_path) + 18);

    assert_int_equal(addr_parse("unix:///tmp/x.sock", &a, err, sizeof(err)), 0);
    assert_string_equal(a.text, "unix:/tmp/x.sock");

    assert_int_equal(addr_parse("fd://3", &a, err, sizeof(err)), 0);
    assert_int_equal(a.kind, ADDR_FD);
    assert_int_equal(a.fd, 3);
    assert_string_equal(a.text, "fd://3");
}

static void test_bad_forms(void **state)
{
    (void)state;
    char longpath[160];
    memset(longpath, 'a', sizeof(longpath));
    memcpy(longpath, "unix:/", 6);
    longpath[5 + 108] = '\0'; /* a path of exactly 108 bytes: one too many */

    assert_bad("", "empty address");
    assert_bad("127.0.0.1:abc", "bad port 'abc'");
    assert_bad("127.0.0.1:", "bad port ''");
    assert_bad("127.0.0.1:-1", "bad port '-1'");
    assert_bad("127.0.0.1:65536", "port 65536 out of range (0-65535)");
    assert_bad("99999999", "port 99999999 out of range (0-65535)");
    assert_bad("[::1]:70000", "port 70000 out of range (0-65535)");
    assert_bad("[::1]", "expected [IPv6]:PORT in '[::1]'");
    assert_bad("[::zz]:80", "bad IPv6 address '::zz'");
    assert_bad("::1:8000", "IPv6 addresses need brackets: [IPv6]:PORT");
    assert_bad("bad host!:80", "bad host 'bad host!'");
    assert_bad("example", "expected HOST:PORT, [IPv6]:PORT, PORT, unix:/path"
                          " or fd://N, got 'example'");
    assert_bad("unix:", "empty unix socket path");
    assert_bad(longpath, "unix socket path too long (108 bytes, max 107)");
    assert_bad("fd://", "bad fd ''");
    assert_bad("fd://x3", "bad fd 'x3'");
    assert_bad("fd://-1", "bad fd '-1'");
    assert_bad("fd://99999999999", "bad fd '99999999999'");
}

/* Host names pass the syntax check without a lookup; addr_parse resolves. */
static void test_names(void **state)
{
    (void)state;
    char err[128] = "";
    struct addr a;

    assert_int_equal(addr_check("no-such-host.invalid:80", err, sizeof(err)), 0);
    assert_int_equal(addr_parse("no-such-host.invalid:80", &a, err, sizeof(err)), -1);
    assert_true(strncmp(err, "cannot resolve 'no-such-host.invalid': ", 39) == 0);
}

static void test_peer_text(void **state)
{
    (void)state;
    char buf[64];
    struct sockaddr_in s4 = { .sin_family = AF_INET };
    struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
    struct sockaddr_un sun = { .sun_family = AF_UNIX };

    inet_pton(AF_INET, "1.2.3.4", &s4.sin_addr);
    addr_peer_text((struct sockaddr *)&s4, sizeof(s4), buf, sizeof(buf));
    assert_string_equal(buf, "1.2.3.4");
    inet_pton(AF_INET6, "::1", &s6.sin6_addr);
    addr_peer_text((struct sockaddr *)&s6, sizeof(s6), buf, sizeof(buf));
    assert_string_equal(buf, "::1");
    inet_pton(AF_INET6, "::ffff:10.0.0.7", &s6.sin6_addr);
    addr_peer_text((struct sockaddr *)&s6, sizeof(s6), buf, sizeof(buf));
    assert_string_equal(buf, "10.0.0.7");
    addr_peer_text((struct sockaddr *)&sun, sizeof(sa_family_t), buf, sizeof(buf));
    assert_string_equal(buf, "unix");
    addr_peer_text(NULL, 0, buf, sizeof(buf));
    assert_string_equal(buf, "-");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_forms),
        cmocka_unit_test(test_unix_and_fd),
        cmocka_unit_test(test_bad_forms),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_peer_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
