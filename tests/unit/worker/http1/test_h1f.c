/*
 * Unit tests for worker/http1/h1f, the HTTP/1.1 framing core the server's
 * request parser and the upstream client's response parser share: line
 * cutting, field lines, list values, Content-Length, and chunked bodies
 * (decoded at every pair of split points) with their trailer sections,
 * each against RFC 9112's rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "worker/http1/h1f.h"

/* Cuts the first line of text (given with its length, NULs allowed) and
 * parses it as a field line; returns h1f_field_parse's result, or -2 when
 * h1f_line refused the line. */
static int field_of(const char *text, size_t n, struct h1f_field *f,
                    char *buf)
{
    char *p = buf, *line;

    memcpy(buf, text, n);
    line = h1f_line(&p, buf + n);
    if (line == NULL)
        return -2;
    return h1f_field_parse(line, f);
}

#define FIELD(lit, f, buf) field_of(lit, sizeof(lit) - 1, f, buf)

static void test_field_ok(void **state)
{
    struct h1f_field f;
    char buf[128];

    (void)state;
    assert_int_equal(FIELD("Host:  example \r\n", &f, buf), 0);
    assert_string_equal(f.name, "Host");
    assert_string_equal(f.value, "example");
    assert_int_equal(FIELD("X-Empty:\n", &f, buf), 0); /* bare LF */
    assert_string_equal(f.value, "");
    assert_int_equal(FIELD("A:\tb \t c\t\r\n", &f, buf), 0);
    assert_string_equal(f.value, "b \t c");
    assert_int_equal(FIELD("!#$%&'*+-.^_`|~09az:v\r\n", &f, buf), 0);
    assert_int_equal(FIELD("A: caf\xc3\xa9\r\n", &f, buf), 0); /* obs-text */
}

static void test_field_bad(void **state)
{
    static const struct {
        const char *s;
        size_t n;
        int want;
    } cases[] = {
#define C(lit, want) { lit, sizeof(lit) - 1, want }
        C("Host : a\r\n", -1), /* whitespace before ':' */
        C("Host\t: a\r\n", -1),
        C(" folded: a\r\n", -1), /* obs-fold, RFC 9112 5.2 */
        C("\tfolded\r\n", -1),
        C("NoColon\r\n", -1),
        C(": empty name\r\n", -1),
        C("A(b): c\r\n", -1),  /* name not a token */
        C("A: b\001\r\n", -1), /* control byte in the value */
        C("A: b\177\r\n", -1), /* DEL */
        C("A: b\rc\r\n", -2),  /* bare CR */
        C("A: b\0c\r\n", -2),  /* NUL */
        C("\0A: b\r\n", -2),
        C("A: b", -2), /* no line end */
#undef C
    };
    struct h1f_field f;
    char buf[128];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int r = field_of(cases[i].s, cases[i].n, &f, buf);
        if (r != cases[i].want)
            fail_msg("case %zu: got %d want %d", i, r, cases[i].want);
    }
}

static void test_list_and_get(void **state)
{
    static const struct h1f_field fl[] = {
        { "Connection", "Upgrade, CLOSE" },
        { "connection", "x" },
    };

    (void)state;
    assert_true(h1f_list_has("a, b ,\tc", "b"));
    assert_true(h1f_list_has("keep-alive", "Keep-Alive"));
    assert_false(h1f_list_has("keep-alive-ish", "keep-alive"));
    assert_false(h1f_list_has("", "a"));
    assert_true(h1f_list_has(h1f_get(fl, 2, "CONNECTION"), "close"));
    assert_null(h1f_get(fl, 2, "Host"));
}

static void test_content_length(void **state)
{
    struct h1f_field fl[3] = {
        { "Content-Length", "12" },
        { "content-length", "12" },
        { "A", "b" },
    };
    uint64_t n = 0;

    (void)state;
    assert_int_equal(h1f_content_length(fl, 3, &n), 1);
    assert_int_equal(n, 12);
    assert_int_equal(h1f_content_length(fl + 2, 1, &n), 0);
    fl[1].value = "13"; /* conflicting */
    assert_int_equal(h1f_content_length(fl, 2, &n), -1);
    static const char *const bad[] = {
        "",
        "-1",
        "1,1",
        "1 ",
        "+1",
        "0x10",
        "99999999999999999999",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fl[0].value = bad[i];
        assert_int_equal(h1f_content_length(fl, 1, &n), -1);
    }
    fl[0].value = "9223372036854775807"; /* INT64_MAX */
    assert_int_equal(h1f_content_length(fl, 1, &n), 1);
    fl[0].value = "9223372036854775808";
    assert_int_equal(h1f_content_length(fl, 1, &n), -1);
}

/* Decodes in split at every pair of points; checks body and end. */
static void check_chunked_splits(const char *in, const char *want_body,
                                 size_t want_used)
{
    size_t n = strlen(in);
    for (size_t a = 0; a <= n; a++) {
        for (size_t b = a; b <= n; b++) {
            struct h1f_chunked st;
            h1f_chunked_init(&st, 0);
            char body[256] = "";
            size_t blen = 0, off = 0, cuts[3] = { a, b, n };
            int r = H1F_CHUNK_MORE;
            for (int k = 0; k < 3 && r != H1F_CHUNK_DONE; k++) {
                while (off < cuts[k]) {
                    const char *d;
                    size_t used, dl;
                    r = h1f_chunked_feed(&st, in + off, cuts[k] - off, &used,
                                         &d, &dl);
                    assert_true(r >= 0);
                    off += used;
                    if (r == H1F_CHUNK_DATA) {
                        memcpy(body + blen, d, dl);
                        blen += dl;
                    }
                    if (r == H1F_CHUNK_DONE)
                        break;
                }
            }
            assert_int_equal(r, H1F_CHUNK_DONE);
            assert_int_equal(off, want_used);
            body[blen] = '\0';
            assert_string_equal(body, want_body);
        }
    }
}

static void test_chunked_ok(void **state)
{
    (void)state;
    const char *s = "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\nGET";
    check_chunked_splits(s, "hello, world", strlen(s) - 3);
    const char *t = "A\nabcdefghij\n0\nTrailer: x\n\n";
    check_chunked_splits(t, "abcdefghij", strlen(t));
    const char *u = "0\r\nX: 1\r\nY: 2\r\n\r\n";
    check_chunked_splits(u, "", strlen(u));
}

static int chunked_result(const char *in)
{
    struct h1f_chunked st;
    h1f_chunked_init(&st, 32);
    size_t off = 0, n = strlen(in);
    int r = H1F_CHUNK_MORE;
    while (off < n) {
        const char *d;
        size_t used, dl;
        r = h1f_chunked_feed(&st, in + off, n - off, &used, &d, &dl);
        if (r < 0 || r == H1F_CHUNK_DONE)
            return r;
        off += used;
    }
    return r == H1F_CHUNK_DATA ? H1F_CHUNK_MORE : r;
}

static void test_chunked_bad(void **state)
{
    (void)state;
    assert_int_equal(chunked_result("x\r\n"), H1F_CHUNK_BAD);
    assert_int_equal(chunked_result("\r\n"), H1F_CHUNK_BAD);
    assert_int_equal(chunked_result(";a\r\n"), H1F_CHUNK_BAD);
    assert_int_equal(chunked_result("3\r\nabcX"), H1F_CHUNK_BAD); /* no CRLF after data */
    assert_int_equal(chunked_result("3\r\nabc\rX"), H1F_CHUNK_BAD);
    assert_int_equal(chunked_result("1000000000000000\r\n"), H1F_CHUNK_BAD); /* 16 digits */
    assert_int_equal(chunked_result("1;aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"),
                     H1F_CHUNK_BAD); /* line limit */
    assert_int_equal(chunked_result("0\r\n\rX"), H1F_CHUNK_BAD);
    /* after the size only BWS and ";" extensions (RFC 9112 7.1.1) */
    assert_int_equal(chunked_result("4 junk\r\nabcd\r\n0\r\n\r\n"),
                     H1F_CHUNK_BAD);
    assert_int_equal(chunked_result("4x\r\n"), H1F_CHUNK_BAD);
    assert_int_equal(chunked_result("4 5\r\n"), H1F_CHUNK_BAD);
    assert_int_equal(chunked_result("4;a\001\r\n"), H1F_CHUNK_BAD);
    assert_int_equal(chunked_result("4;a\177\r\n"), H1F_CHUNK_BAD);
    assert_int_equal(chunked_result("4\rX"), H1F_CHUNK_BAD); /* bare CR */
    assert_int_equal(chunked_result("0\r\n \r\n"), H1F_CHUNK_BAD);
    /* the trailer section: field lines as in a head (RFC 9112 7.1.2) */
    assert_int_equal(chunked_result("0\r\nX\r\r\nGET /smuggled"),
                     H1F_CHUNK_BAD); /* no colon, bare CR */
    assert_int_equal(chunked_result("0\r\nX\r\n\r\n"), H1F_CHUNK_BAD);
    assert_int_equal(chunked_result("0\r\nX: a\rb\r\n\r\n"), H1F_CHUNK_BAD);
    assert_int_equal(chunked_result("0\r\nX : a\r\n\r\n"), H1F_CHUNK_BAD);
    assert_int_equal(chunked_result("0\r\nX: a\r\n b\r\n\r\n"),
                     H1F_CHUNK_BAD); /* obs-fold */
    assert_int_equal(chunked_result("0\r\nX: a\001\r\n\r\n"), H1F_CHUNK_BAD);
    assert_int_equal(chunked_result("0\r\n: a\r\n\r\n"), H1F_CHUNK_BAD);
    assert_int_equal(chunked_result("3\r\nab"), H1F_CHUNK_MORE);
}


/* A NUL is framing too: it ends neither a size line nor a trailer. */
static void test_chunked_nul(void **state)
{
    static const struct {
        const char *s;
        size_t n;
    } cases[] = {
#define C(lit) { lit, sizeof(lit) - 1 }
        C("4;a\0\r\nabcd\r\n0\r\n\r\n"),
        C("4\0\r\nabcd\r\n0\r\n\r\n"),
        C("0\r\nX: a\0b\r\n\r\n"),
        C("0\r\n\0X: a\r\n\r\n"),
        C("0\r\nX\0: a\r\n\r\n"),
#undef C
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct h1f_chunked st;
        const char *d;
        size_t used, dl, off = 0;
        int r;

        h1f_chunked_init(&st, 0);
        do {
            r = h1f_chunked_feed(&st, cases[i].s + off, cases[i].n - off,
                                 &used, &d, &dl);
            off += used;
        } while (r == H1F_CHUNK_DATA);
        if (r != H1F_CHUNK_BAD)
            fail_msg("case %zu: got %d", i, r);
    }
}

/* Whitespace allowed by the grammar, and the end reported again. */
static void test_chunked_lenient(void **state)
{
    const char *s = "4 \t;a=\"x y\"\t;b\r\nabcd\r\n0 \r\n\r\n";
    struct h1f_chunked st;
    const char *d;
    size_t used, dl;

    (void)state;
    check_chunked_splits(s, "abcd", strlen(s));
    h1f_chunked_init(&st, 0);
    assert_int_equal(h1f_chunked_feed(&st, "0\r\n\r\nX", 6, &used, &d, &dl),
                     H1F_CHUNK_DONE);
    assert_int_equal(used, 5);
    assert_int_equal(h1f_chunked_feed(&st, "X", 1, &used, &d, &dl),
                     H1F_CHUNK_DONE);
    assert_int_equal(used, 0);
}

/* At most 100 trailer lines. */
static void test_chunked_trailer_count(void **state)
{
    char s[2048] = "0\r\n";

    (void)state;
    for (int i = 0; i < 100; i++)
        strcat(s, "T: v\r\n");
    strcat(s, "\r\n");
    assert_int_equal(chunked_result(s), H1F_CHUNK_DONE);
    strcpy(s + strlen(s) - 2, "T: v\r\n\r\n");
    assert_int_equal(chunked_result(s), H1F_CHUNK_BAD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_field_ok),
        cmocka_unit_test(test_field_bad),
        cmocka_unit_test(test_list_and_get),
        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_chunked_ok),
        cmocka_unit_test(test_chunked_bad),
        cmocka_unit_test(test_chunked_nul),
        cmocka_unit_test(test_chunked_lenient),
        cmocka_unit_test(test_chunked_trailer_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
