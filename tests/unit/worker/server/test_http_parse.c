/* Unit tests for worker/server/http_parse: head scanning with limits,
 * head parsing, body framing. The field-line rules and chunked decoding
 * it shares with the upstream client are tested in tests/unit/worker/
 * http1/test_h1f.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "worker/server/http_parse.h"

static const struct http_limits LIM = { 4094, 100, 8190 };

/* Scans s fed one byte at a time; returns the final result. */
static long scan_bytewise(const char *s, const struct http_limits *lim)
{
    struct http_scan st = { 0 };
    size_t n = strlen(s);
    long r = 0;
    for (size_t i = 1; i <= n; i++) {
        r = http_scan_head(&st, s, i, lim);
        if (r != 0)
            return r;
    }
    return r;
}

/* Scans and parses s; returns the parse result. */
static int parse(const char *s, struct http_head *h, char **copy)
{
    struct http_scan st = { 0 };
    long len = http_scan_head(&st, s, strlen(s), &LIM);
    if (len <= 0)
        return (int)len;
    *copy = malloc((size_t)len + 1);
    memcpy(*copy, s, (size_t)len);
    static struct h1f_field fields[128];
    return http_parse_head(*copy, (size_t)len, h, fields, st.fields);
}

static void test_scan_complete(void **state)
{
    (void)state;
    const char *s = "GET / HTTP/1.1\r\nHost: a\r\n\r\nNEXT";
    assert_int_equal(scan_bytewise(s, &LIM), (long)strlen(s) - 4);
    assert_int_equal(scan_bytewise("GET / HTTP/1.1\nHost: a\n\n", &LIM), 24);
    assert_int_equal(scan_bytewise("GET / HTTP/1.1\r\nHost: a\r\n", &LIM), 0);
    /* leading empty lines are part of the head and skipped */
    assert_int_equal(scan_bytewise("\r\nGET / HTTP/1.0\r\n\r\n", &LIM), 20);
}

static void test_scan_line_limit(void **state)
{
    (void)state;
    struct http_limits lim = { 20, 100, 8190 };
    /* exactly at the limit passes, one more is 414, even before its LF */
    assert_true(scan_bytewise("GET /aaaaaaaa HTTP/1.1\r\n\r\n", &lim) == -414);
    assert_true(scan_bytewise("GET /aaaaaa HTTP/1.1\r\n\r\n", &lim) > 0);
    assert_int_equal(scan_bytewise("GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaa", &lim),
                     -414);
    lim.line = 0; /* unlimited */
    assert_true(scan_bytewise("GET /aaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n\r\n",
                              &lim) > 0);
}

static void test_scan_field_limits(void **state)
{
    (void)state;
    struct http_limits lim = { 4094, 2, 10 };
    assert_true(scan_bytewise("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n", &lim) > 0);
    assert_int_equal(scan_bytewise("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
                                   &lim),
                     -431);
    assert_true(scan_bytewise("GET / HTTP/1.1\r\nA: 4567890\r\n\r\n", &lim) > 0);
    assert_int_equal(scan_bytewise("GET / HTTP/1.1\r\nA: 45678901\r\n\r\n", &lim),
                     -431);
    /* an endless header line is refused before it ends */
    assert_int_equal(scan_bytewise("GET / HTTP/1.1\r\nA: 4567890123456", &lim),
                     -431);
}

static void test_scan_hard_cap(void **state)
{
    (void)state;
    struct http_limits lim = { 0, 0, 0 };
    size_t n = HTTP_HEAD_HARD_MAX + 10;
    char *s = malloc(n);
    memcpy(s, "GET / HTTP/1.1\r\nX: ", 19);
    memset(s + 19, 'a', n - 19);
    struct http_scan st = { 0 };
    assert_int_equal(http_scan_head(&st, s, n, &lim), -431);
    free(s);
}

static void test_parse_ok(void **state)
{
    (void)state;
    struct http_head h;
    char *c = NULL;
    assert_int_equal(parse("POST /a/b?x=1 HTTP/1.1\r\nHost:  example \r\n"
                           "X-Empty:\r\nContent-Length: 5\r\n\r\n",
                           &h, &c),
                     0);
    assert_string_equal(h.method, "POST");
    assert_string_equal(h.target, "/a/b?x=1");
    assert_int_equal(h.minor, 1);
    assert_int_equal(h.nfields, 3);
    assert_string_equal(http_head_get(&h, "host"), "example");
    assert_string_equal(http_head_get(&h, "X-EMPTY"), "");
    assert_null(http_head_get(&h, "Missing"));
    enum http_body kind;
    uint64_t len;
    assert_int_equal(http_head_body(&h, &kind, &len), 0);
    assert_int_equal(kind, HTTP_BODY_LENGTH);
    assert_int_equal(len, 5);
    free(c);
}

static void test_parse_bad(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int want;
    } cases[] = {
        { "GET  / HTTP/1.1\r\n\r\n", -400 }, /* double space */
        { "GET /\r\n\r\n", -400 },           /* HTTP/0.9 */
        { "GET / HTTP/1.1 x\r\n\r\n", -400 },
        { "G(T / HTTP/1.1\r\n\r\n", -400 }, /* method not a token */
        { "GET / HTTX/1.1\r\n\r\n", -400 },
        { "GET / HTTP/2.0\r\n\r\n", -505 },
        { "GET / HTTP/1.1\r\nHost : a\r\n\r\n", -400 }, /* space before ':' */
        { "GET / HTTP/1.1\r\nNoColon\r\n\r\n", -400 },
        { "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", -400 }, /* obs-fold */
        { "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", -400 },    /* bare CR */
        { "GET / HTTP/1.1\r\nA: b\001\r\n\r\n", -400 },   /* control */
        { "GET /a\001b HTTP/1.1\r\n\r\n", -400 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct http_head h;
        char *c = NULL;
        int r = parse(cases[i].s, &h, &c);
        if (r != cases[i].want)
            fail_msg("case %zu (%s): got %d want %d", i, cases[i].s, r,
                     cases[i].want);
        free(c);
    }
}

/* A NUL in the head is malformed wherever it is: read as C strings, it
 * would cut a value short, or end the head early at a line it starts
 * (the fields after it, Content-Length too, silently dropped). */
static void test_parse_nul(void **state)
{
    (void)state;
#define NUL_CASE(lit)        \
    {                        \
        lit, sizeof(lit) - 1 \
    }
    static const struct {
        const char *s;
        size_t len;
    } cases[] = {
        NUL_CASE("GET / HTTP/1.1\r\nA: b\0c\r\n\r\n"),
        NUL_CASE("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\0x\r\n\r\n"),
        NUL_CASE("GET / HTTP/1.1\r\n\0X: y\r\nContent-Length: 5\r\n\r\n"),
        NUL_CASE("\0\r\nGET / HTTP/1.1\r\n\r\n"),
        NUL_CASE("GET / HTTP/1.1\0\r\n\r\n"),
    };
#undef NUL_CASE
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct http_scan st = { 0 };
        long len = http_scan_head(&st, cases[i].s, cases[i].len, &LIM);
        assert_int_equal(len, (long)cases[i].len);
        char *copy = malloc(cases[i].len);
        memcpy(copy, cases[i].s, cases[i].len);
        struct h1f_field fields[8];
        struct http_head h;
        int r = http_parse_head(copy, cases[i].len, &h, fields, st.fields);
        if (r != -400)
            fail_msg("case %zu: got %d want -400", i, r);
        free(copy);
    }
}

static void test_target_origin(void **state)
{
    (void)state;
    assert_string_equal(http_target_origin("/a?b"), "/a?b");
    assert_string_equal(http_target_origin("http://h:8000/a/b?x=1"), "/a/b?x=1");
    assert_string_equal(http_target_origin("HTTPS://h/"), "/");
    assert_string_equal(http_target_origin("http://h"), "");
    assert_string_equal(http_target_origin("http://h?x"), "?x");
    assert_string_equal(http_target_origin("http://u@h/p"), "/p");
    /* not the absolute-form: left as sent */
    assert_string_equal(http_target_origin("*"), "*");
    assert_string_equal(http_target_origin("h:8000"), "h:8000");
    assert_string_equal(http_target_origin("/x/http://h/y"), "/x/http://h/y");
    assert_string_equal(http_target_origin("1a://h/p"), "1a://h/p");
}

static int body_of(const char *s, enum http_body *kind, uint64_t *len)
{
    struct http_head h;
    char *c = NULL;
    int r = parse(s, &h, &c);
    if (r == 0)
        r = http_head_body(&h, kind, len);
    free(c);
    return r;
}

static void test_body_framing(void **state)
{
    (void)state;
    enum http_body k;
    uint64_t n;
    assert_int_equal(body_of("GET / HTTP/1.1\r\n\r\n", &k, &n), 0);
    assert_int_equal(k, HTTP_BODY_NONE);
    assert_int_equal(body_of("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
                             &k, &n),
                     0);
    assert_int_equal(k, HTTP_BODY_NONE);
    assert_int_equal(body_of("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n",
                             &k, &n),
                     0);
    assert_int_equal(k, HTTP_BODY_CHUNKED);
    assert_int_equal(body_of("POST / HTTP/1.1\r\nContent-Length: 3\r\n"
                             "Content-Length: 3\r\n\r\n",
                             &k, &n),
                     0);
    assert_int_equal(n, 3);
    assert_int_equal(body_of("POST / HTTP/1.1\r\nContent-Length: 3\r\n"
                             "Content-Length: 4\r\n\r\n",
                             &k, &n),
                     -400);
    assert_int_equal(body_of("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                             &k, &n),
                     -400);
    assert_int_equal(body_of("POST / HTTP/1.1\r\nContent-Length: 1,1\r\n\r\n",
                             &k, &n),
                     -400);
    assert_int_equal(body_of("POST / HTTP/1.1\r\nContent-Length: "
                             "99999999999999999999999\r\n\r\n",
                             &k, &n),
                     -400);
    assert_int_equal(body_of("POST / HTTP/1.1\r\nContent-Length: 3\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n",
                             &k, &n),
                     -400);
    assert_int_equal(body_of("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
                             &k, &n),
                     -501);
    assert_int_equal(body_of("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, "
                             "chunked\r\n\r\n",
                             &k, &n),
                     -501);
}

/* Each head parses, and fn says of it what the case wants. */
struct head_case {
    const char *s;
    int want;
};

static void check_heads(const struct head_case *cases, size_t n,
                        int (*fn)(const struct http_head *))
{
    for (size_t i = 0; i < n; i++) {
        struct http_head h;
        char *c = NULL;
        assert_int_equal(parse(cases[i].s, &h, &c), 0);
        assert_int_equal(fn(&h), cases[i].want);
        free(c);
    }
}

static void test_keepalive(void **state)
{
    (void)state;
    static const struct head_case cases[] = {
        { "GET / HTTP/1.1\r\n\r\n", 1 },
        { "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 0 },
        { "GET / HTTP/1.1\r\nConnection: Upgrade, CLOSE\r\n\r\n", 0 },
        { "GET / HTTP/1.0\r\n\r\n", 0 },
        { "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1 },
        { "GET / HTTP/1.0\r\nConnection: keep-alive-ish\r\n\r\n", 0 },
    };
    check_heads(cases, sizeof(cases) / sizeof(cases[0]), http_head_keepalive);
}

static void test_host(void **state)
{
    (void)state;
    static const struct head_case cases[] = {
        { "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 1 },
        { "GET / HTTP/1.1\r\nhOST: a\r\n\r\n", 1 },
        { "GET / HTTP/1.1\r\n\r\n", 0 },
        { "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 0 },
        { "GET / HTTP/1.0\r\n\r\n", 1 },
        { "GET / HTTP/1.0\r\nHost: a\r\n\r\n", 1 },
        { "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", 0 },
        /* the value: uri-host [":" port], RFC 9112 3.2, RFC 3986 3.2.2 */
        { "GET / HTTP/1.1\r\nHost:\r\n\r\n", 1 },
        { "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", 1 },
        { "GET / HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n", 1 },
        { "GET / HTTP/1.1\r\nHost: [::1]:8000\r\n\r\n", 1 },
        { "GET / HTTP/1.1\r\nHost: [2001:db8::7]\r\n\r\n", 1 },
        { "GET / HTTP/1.1\r\nHost: a%2Db_c~d!$&'()*+,;=\r\n\r\n", 1 },
        { "GET / HTTP/1.1\r\nHost: a:\r\n\r\n", 1 },
        { "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 0 },
        { "GET / HTTP/1.1\r\nHost: a/b@c\r\n\r\n", 0 },
        { "GET / HTTP/1.1\r\nHost: u@h\r\n\r\n", 0 },
        { "GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", 0 },
        { "GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n", 0 },
        { "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 0 },
        { "GET / HTTP/1.1\r\nHost: [nothex]\r\n\r\n", 0 },
        { "GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", 0 },
        { "GET / HTTP/1.0\r\nHost: a\"b\r\n\r\n", 0 },
    };
    check_heads(cases, sizeof(cases) / sizeof(cases[0]), http_head_host_ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_complete),
        cmocka_unit_test(test_scan_line_limit),
        cmocka_unit_test(test_scan_field_limits),
        cmocka_unit_test(test_scan_hard_cap),
        cmocka_unit_test(test_parse_ok),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_parse_nul),
        cmocka_unit_test(test_target_origin),
        cmocka_unit_test(test_body_framing),
        cmocka_unit_test(test_keepalive),
        cmocka_unit_test(test_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
