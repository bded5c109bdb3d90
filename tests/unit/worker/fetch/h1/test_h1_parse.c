/*
 * test_h1_parse — response heads and body framings as upstreams send
 * them. Bodies are decoded whole, then byte by byte, from heap copies (so
 * under ASan a piece that points outside the input is caught); both ways
 * must give the same bytes and the same end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "worker/fetch/h1/h1_parse.h"

/* Parses a head given as a string; returns the parse result. */
static int parse(const char *text, int head_req, struct h1_head *h,
                 const char **why)
{
    static char buf[8192];
    size_t n = strlen(text);

    assert_true(n < sizeof buf);
    memcpy(buf, text, n + 1);
    *why = NULL;
    return h1_head_parse(buf, n, head_req, h, why);
}

static void head_end(void **state)
{
    const char *crlf = "HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody";
    const char *lf = "HTTP/1.1 200 OK\nA: b\n\nbody";

    (void)state;
    assert_int_equal(h1_head_end(crlf, strlen(crlf)), strlen(crlf) - 4);
    assert_int_equal(h1_head_end(lf, strlen(lf)), strlen(lf) - 4);
    for (size_t i = 0; i < strlen(crlf) - 4; i++)
        assert_int_equal(h1_head_end(crlf, i), 0);
}

static void heads_and_framing(void **state)
{
    struct h1_head h;
    const char *why;

    (void)state;
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream"
                           "\r\nTransfer-Encoding: chunked\r\nX-Request-Id:  "
                           "abc \r\n\r\n",
                           0, &h, &why),
                     0);
    assert_int_equal(h.status, 200);
    assert_int_equal(h.framing, H1_F_CHUNKED);
    assert_int_equal(h.keep_alive, 1);
    assert_string_equal(h1_head_get(&h, "x-request-id"), "abc");
    assert_null(h1_head_get(&h, "content-length"));

    assert_int_equal(parse("HTTP/1.1 429 Too Many Requests\r\nContent-Length: "
                           "12\r\nConnection: close\r\n\r\n",
                           0, &h, &why),
                     0);
    assert_int_equal(h.framing, H1_F_LENGTH);
    assert_int_equal(h.length, 12);
    assert_int_equal(h.keep_alive, 0);

    /* HTTP/1.0 without keep-alive, no length: to the close */
    assert_int_equal(parse("HTTP/1.0 200 OK\r\n\r\n", 0, &h, &why), 0);
    assert_int_equal(h.framing, H1_F_CLOSE);
    assert_int_equal(h.keep_alive, 0);
    /* a coding other than chunked last: to the close as well */
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, "
                           "gzip\r\n\r\n",
                           0, &h, &why),
                     0);
    assert_int_equal(h.framing, H1_F_CLOSE);
    /* no body: 204, 304, 1xx, a HEAD's answer */
    assert_int_equal(parse("HTTP/1.1 204 No Content\r\n\r\n", 0, &h, &why), 0);
    assert_int_equal(h.framing, H1_F_NONE);
    assert_int_equal(parse("HTTP/1.1 100 Continue\r\n\r\n", 0, &h, &why), 0);
    assert_int_equal(h.framing, H1_F_NONE);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 1,
                           &h, &why),
                     0);
    assert_int_equal(h.framing, H1_F_NONE);
    /* the same length twice is one length */
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                           "content-length: 3\r\n\r\n",
                           0, &h, &why),
                     0);
    assert_int_equal(h.length, 3);
}

static void bad_heads(void **state)
{
    static const char *const bad[] = {
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 200OK\r\n\r\n",
        "ICY 200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
        "HTTP/1.1 200 OK\r\nSpace before : colon\r\n\r\n",
        "HTTP/1.1 200 OK\r\n folded: line\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        /* both: an error, RFC 9112 6.3 (the connection is not reused) */
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n" // NOLINT(bugprone-suspicious-missing-comma): one response
        "Content-Length: 5\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\001\r\n\r\n", /* control byte */
        "HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n",  /* bare CR */
    };
    struct h1_head h;
    const char *why;
    char many[4096] = "HTTP/1.1 200 OK\r\n";

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse(bad[i], 0, &h, &why), -1);
        assert_non_null(why);
    }
    for (int i = 0; i <= H1_HDR_MAX; i++)
        strcat(many, "A: b\r\n");
    strcat(many, "\r\n");
    assert_int_equal(parse(many, 0, &h, &why), -1);
    assert_string_equal(why, "upstream sent too many header lines");
}

/* Decodes in (given whole, or byte by byte when step is 1) into out;
 * returns the last result. */
static enum h1_next decode(const struct h1_head *h, const char *in,
                           size_t step, char *out, size_t *outlen)
{
    struct h1_body b;
    size_t n = strlen(in), off = 0;
    enum h1_next r = H1_MORE;

    *outlen = 0;
    h1_body_init(&b, h);
    while (off < n || h->framing == H1_F_NONE) {
        size_t k = step == 0 || n - off < step ? n - off : step;
        char *piece_in = malloc(k + 1);
        size_t used = 0, at = 0;

        memcpy(piece_in, in + off, k);
        do {
            const char *p;
            size_t plen;

            r = h1_body_next(&b, piece_in + at, k - at, &used, &p, &plen);
            if (r == H1_PIECE) {
                memcpy(out + *outlen, p, plen);
                *outlen += plen;
            }
            at += used;
        } while (r == H1_PIECE);
        free(piece_in);
        off += k;
        if (r != H1_MORE)
            break;
    }
    return r;
}

static void bodies(void **state)
{
    struct h1_head h = { .framing = H1_F_CHUNKED };
    char out[256];
    size_t len;

    (void)state;
    for (size_t step = 0; step <= 1; step++) {
        const char *c = "5;ext=\"v\"\r\nhello\r\n1\r\n \r\n6\nworld!\n"
                        "0\r\nTrailer: x\r\n\r\n";
        assert_int_equal(decode(&h, c, step, out, &len), H1_END);
        assert_int_equal(len, 12);
        assert_memory_equal(out, "hello world!", 12);
        assert_int_equal(decode(&h, "5\r\nhel", step, out, &len), H1_MORE);
        assert_int_equal(len, 3);
        assert_int_equal(decode(&h, "zz\r\n", step, out, &len), H1_BAD);
        assert_int_equal(decode(&h, "3\r\nabcX\r\n", step, out, &len),
                         H1_BAD);
        assert_int_equal(decode(&h, "1000000000000000\r\n", step, out, &len),
                         H1_BAD);
    }
    h.framing = H1_F_LENGTH;
    h.length = 4;
    assert_int_equal(decode(&h, "abcdEXTRA", 1, out, &len), H1_END);
    assert_int_equal(len, 4);
    h.framing = H1_F_NONE;
    assert_int_equal(decode(&h, "", 0, out, &len), H1_END);
    assert_int_equal(len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(head_end),
        cmocka_unit_test(heads_and_framing),
        cmocka_unit_test(bad_heads),
        cmocka_unit_test(bodies),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
