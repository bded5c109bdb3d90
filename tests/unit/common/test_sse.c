/*
 * test_sse — the text/event-stream parser against real-shaped streams.
 *
 * Every stream is fed whole, then cut in two at every offset, then byte by
 * byte, then in pseudo-random pieces (fixed seed); each way must give the
 * same events and the same results. Each piece is copied into its own heap
 * block freed right after sse_feed(), so under ASan a pointer the parser
 * kept into the caller's bytes is caught.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/sse.h"

#define LOG_MAX (64 * 1024)

/* What a run saw: one line per event, and the results. */
struct run {
    char log[LOG_MAX];
    size_t len;
    int events;
    int stop_after;      /* callback returns nonzero at this event; 0 never */
    int feed_rc;         /* first nonzero sse_feed() result, or 0 */
    int cut;             /* sse_finish() result */
    const char *lo, *hi; /* the piece being fed, to see zero-copy */
    int borrowed;        /* events whose data pointed into the piece */
};

static void log_bytes(struct run *r, const char *s, size_t n)
{
    assert_true(r->len + n < LOG_MAX);
    memcpy(r->log + r->len, s, n);
    r->len += n;
    r->log[r->len] = '\0';
}

static void log_fmt(struct run *r, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(r->log + r->len, LOG_MAX - r->len, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && r->len + (size_t)n < LOG_MAX);
    r->len += (size_t)n;
}

/* Logs "type|id|retry|done|data" then a '\n'; data may hold '\n' itself,
 * which the expected logs spell out. */
static int record(const struct sse_event *ev, void *arg)
{
    struct run *r = arg;

    log_bytes(r, ev->type, ev->type_len);
    log_bytes(r, "|", 1);
    log_bytes(r, ev->id, ev->id_len);
    log_fmt(r, "|%ld|%d|", ev->retry, ev->done);
    log_bytes(r, ev->data, ev->data_len);
    log_bytes(r, "\n", 1);
    if (ev->data_len > 0 && ev->data >= r->lo && ev->data < r->hi)
        r->borrowed++;
    r->events++;
    return r->stop_after && r->events == r->stop_after;
}

static void feed_piece(struct sse_parser *p, struct run *r, const char *s,
                       size_t n)
{
    char *copy = malloc(n ? n : 1);
    int rc;

    assert_non_null(copy);
    memcpy(copy, s, n);
    r->lo = copy;
    r->hi = copy + n;
    rc = sse_feed(p, copy, n);
    if (r->feed_rc == 0)
        r->feed_rc = rc;
    else
        assert_int_equal(rc, r->feed_rc); /* results are sticky */
    free(copy);
}

/* Feeds s cut at the given offsets (ascending), then finishes. */
static void run_cuts(struct run *r, size_t max, int stop_after,
                     const char *s, size_t n, const size_t *cuts,
                     size_t ncuts)
{
    struct sse_parser p;
    size_t i, at = 0;

    memset(r, 0, sizeof(*r));
    r->stop_after = stop_after;
    sse_init(&p, max, record, r);
    for (i = 0; i <= ncuts; i++) {
        /* cppcheck-suppress nullPointer ; cuts[i] only when i < ncuts */
        size_t to = i < ncuts ? cuts[i] : n;
        feed_piece(&p, r, s + at, to - at);
        at = to;
    }
    r->cut = sse_finish(&p);
    sse_free(&p);
}

static void assert_same_run(const struct run *a, const struct run *b)
{
    assert_int_equal(a->events, b->events);
    assert_int_equal(a->len, b->len);
    assert_memory_equal(a->log, b->log, a->len);
    assert_int_equal(a->feed_rc, b->feed_rc);
    assert_int_equal(a->cut, b->cut);
}

/* Whole, every two-piece split, byte by byte, random pieces: all equal.
 * Returns the whole run in *whole. */
static void check_all_splits(struct run *whole, size_t max, int stop_after,
                             const char *s, size_t n)
{
    static struct run r;
    size_t k, *cuts;
    uint32_t seed = 12345;
    int round;

    run_cuts(whole, max, stop_after, s, n, NULL, 0);
    for (k = 0; k <= n; k++) {
        run_cuts(&r, max, stop_after, s, n, &k, 1);
        assert_same_run(whole, &r);
    }
    cuts = calloc(n + 1, sizeof(*cuts));
    assert_non_null(cuts);
    for (k = 0; k < n; k++)
        cuts[k] = k + 1;
    run_cuts(&r, max, stop_after, s, n, cuts, n ? n - 1 : 0);
    assert_same_run(whole, &r);
    for (round = 0; round < 50; round++) {
        size_t nc = 0, at = 0;
        for (;;) {
            seed = seed * 1103515245u + 12345u;
            at += 1 + (seed >> 16) % 97;
            if (at >= n)
                break;
            cuts[nc++] = at;
        }
        run_cuts(&r, max, stop_after, s, n, cuts, nc);
        assert_same_run(whole, &r);
    }
    free(cuts);
}

/* Builds an SSE stream "data: <chunk><eol><eol>" for each chunk. */
static char *build_stream(const char *const *chunks, const char *eol,
                          size_t *len)
{
    size_t i, n = 0, el = strlen(eol);
    char *s, *w;

    for (i = 0; chunks[i]; i++)
        n += strlen("data: ") + strlen(chunks[i]) + 2 * el;
    s = w = malloc(n + 1);
    assert_non_null(s);
    for (i = 0; chunks[i]; i++)
        /* cppcheck-suppress uninitdata ; sprintf writes, never reads, w */
        w += sprintf(w, "data: %s%s%s", chunks[i], eol, eol);
    *len = n;
    return s;
}

/* The log a stream of default-type, id-less, unnamed events gives. */
static void expect_plain(struct run *want, const char *const *chunks)
{
    size_t i;

    memset(want, 0, sizeof(*want));
    for (i = 0; chunks[i]; i++) {
        log_fmt(want, "message||-1|%d|%s\n",
                strcmp(chunks[i], "[DONE]") == 0, chunks[i]);
        want->events++;
    }
}

static void check_chunk_stream(const char *const *chunks, const char *eol)
{
    static struct run whole, want;
    size_t n;
    char *s = build_stream(chunks, eol, &n);

    check_all_splits(&whole, 0, 0, s, n);
    expect_plain(&want, chunks);
    assert_int_equal(whole.events, want.events);
    assert_string_equal(whole.log, want.log);
    assert_int_equal(whole.feed_rc, SSE_OK);
    assert_int_equal(whole.cut, 0);
    free(s);
}

static const char *const openai_chunks[] = {
    "{\"id\":\"chatcmpl-AbC1\",\"object\":\"chat.completion.chunk\","
    "\"created\":1732590000,\"model\":\"gpt-4o-mini-2024-07-18\","
    "\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},"
    "\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}",
    "{\"id\":\"chatcmpl-AbC1\",\"object\":\"chat.completion.chunk\","
    "\"created\":1732590000,\"model\":\"gpt-4o-mini-2024-07-18\","
    "\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\"Hello\"},\"logprobs\":null,"
    "\"finish_reason\":null}],\"usage\":null}",
    "{\"id\":\"chatcmpl-AbC1\",\"object\":\"chat.completion.chunk\","
    "\"created\":1732590000,\"model\":\"gpt-4o-mini-2024-07-18\","
    "\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\" wor\\nld: \\\"\\u00e9\\\"\"},"
    "\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}",
    "{\"id\":\"chatcmpl-AbC1\",\"object\":\"chat.completion.chunk\","
    "\"created\":1732590000,\"model\":\"gpt-4o-mini-2024-07-18\","
    "\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":[{\"index\":0,"
    "\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
    "\"usage\":null}",
    "{\"id\":\"chatcmpl-AbC1\",\"object\":\"chat.completion.chunk\","
    "\"created\":1732590000,\"model\":\"gpt-4o-mini-2024-07-18\","
    "\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":[],"
    "\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":3,"
    "\"total_tokens\":22}}",
    "[DONE]",
    NULL
};

static const char *const azure_chunks[] = {
    "{\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\","
    "\"prompt_filter_results\":[{\"prompt_index\":0,"
    "\"content_filter_results\":{\"hate\":{\"filtered\":false,"
    "\"severity\":\"safe\"},\"jailbreak\":{\"filtered\":false,"
    "\"detected\":false},\"self_harm\":{\"filtered\":false,"
    "\"severity\":\"safe\"},\"sexual\":{\"filtered\":false,"
    "\"severity\":\"safe\"},\"violence\":{\"filtered\":false,"
    "\"severity\":\"safe\"}}}]}",
    "{\"choices\":[{\"content_filter_results\":{},\"delta\":{\"content\":\"\","
    "\"role\":\"assistant\"},\"finish_reason\":null,\"index\":0,"
    "\"logprobs\":null}],\"created\":1732590001,\"id\":\"chatcmpl-Az9\","
    "\"model\":\"gpt-4o-2024-08-06\",\"object\":\"chat.completion.chunk\","
    "\"system_fingerprint\":\"fp_04751d0b65\"}",
    "{\"choices\":[{\"content_filter_results\":{\"hate\":{\"filtered\":false,"
    "\"severity\":\"safe\"},\"self_harm\":{\"filtered\":false,"
    "\"severity\":\"safe\"},\"sexual\":{\"filtered\":false,"
    "\"severity\":\"safe\"},\"violence\":{\"filtered\":false,"
    "\"severity\":\"safe\"}},\"delta\":{\"content\":\"Tents\"},"
    "\"finish_reason\":null,\"index\":0,\"logprobs\":null}],"
    "\"created\":1732590001,\"id\":\"chatcmpl-Az9\","
    "\"model\":\"gpt-4o-2024-08-06\",\"object\":\"chat.completion.chunk\","
    "\"system_fingerprint\":\"fp_04751d0b65\"}",
    "{\"choices\":[{\"content_filter_results\":{},\"delta\":{},"
    "\"finish_reason\":\"stop\",\"index\":0,\"logprobs\":null}],"
    "\"created\":1732590001,\"id\":\"chatcmpl-Az9\","
    "\"model\":\"gpt-4o-2024-08-06\",\"object\":\"chat.completion.chunk\","
    "\"system_fingerprint\":\"fp_04751d0b65\"}",
    "[DONE]",
    NULL
};

static void test_openai_stream(void **state)
{
    (void)state;
    check_chunk_stream(openai_chunks, "\n");
}

static void test_azure_stream(void **state)
{
    (void)state;
    check_chunk_stream(azure_chunks, "\n");
}

static void test_crlf_stream(void **state)
{
    (void)state;
    check_chunk_stream(openai_chunks, "\r\n");
    check_chunk_stream(azure_chunks, "\r\n");
}

static void test_cr_stream(void **state)
{
    (void)state;
    check_chunk_stream(openai_chunks, "\r");
    check_chunk_stream(azure_chunks, "\r");
}

/* Fed whole, a one-line event reaches the callback as a pointer into the
 * caller's bytes; cut inside an event, it is copied and still right. */
static void test_zero_copy(void **state)
{
    static struct run r;
    size_t n, cut;
    char *s = build_stream(openai_chunks, "\n", &n);

    (void)state;
    run_cuts(&r, 0, 0, s, n, NULL, 0);
    assert_int_equal(r.events, 6);
    assert_int_equal(r.borrowed, 6);
    cut = strlen("data: ") + 10;
    run_cuts(&r, 0, 0, s, n, &cut, 1);
    assert_int_equal(r.events, 6);
    assert_int_equal(r.borrowed, 5);
    free(s);
}

static void check_stream(const char *s, size_t n, size_t max,
                         const char *want_log, int want_rc, int want_cut)
{
    static struct run whole;

    check_all_splits(&whole, max, 0, s, n);
    assert_string_equal(whole.log, want_log);
    assert_int_equal(whole.feed_rc, want_rc);
    assert_int_equal(whole.cut, want_cut);
}

#define CHECK(lit, max, log, rc, cut) \
    check_stream(lit, sizeof(lit) - 1, max, log, rc, cut)

static void test_multiline_data(void **state)
{
    (void)state;
    CHECK("data: first\ndata:  two spaces\ndata:third\n\n"
          "data\n\n"
          "data:\ndata:\n\n"
          "data: x\ndata\ndata: y\n\n",
          0,
          "message||-1|0|first\n two spaces\nthird\n"
          "message||-1|0|\n"
          "message||-1|0|\n\n"
          "message||-1|0|x\n\ny\n",
          SSE_OK, 0);
}

static void test_fields(void **state)
{
    (void)state;
    CHECK(": this is a comment\n"
          ":\n"
          "event: delta\nid: 7\ndata: a\n\n"
          "data: b\n\n"                   /* type resets, id stays */
          "event: only-a-name\nid: 8\n\n" /* no data: not dispatched */
          "data: c\n\n"
          "retry: 3000\nfoo: bar\nData: no\ndata: d\n\n"
          "retry: 30x\nretry:\nretry: 1 0\ndata: e\n\n" /* ignored */
          "id\nevent:ping\ndata: {}\n\n"                /* empty id clears it */
          "event\ndata: f\n\n",                         /* empty type = message */
          0,
          "delta|7|-1|0|a\n"
          "message|7|-1|0|b\n"
          "message|8|-1|0|c\n"
          "message|8|3000|0|d\n"
          "message|8|3000|0|e\n"
          "ping||3000|0|{}\n"
          "message||3000|0|f\n",
          SSE_OK, 0);
}

static void test_id_with_nul(void **state)
{
    (void)state;
    CHECK("id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n", 0,
          "message|1|-1|0|a\n"
          "message|1|-1|0|b\n",
          SSE_OK, 0);
}

static void test_retry_saturates(void **state)
{
    (void)state;
    CHECK("retry: 99999999999999999999999999\ndata: a\n\n", 0,
          "message||9223372036854775807|0|a\n", SSE_OK, 0);
}

static void test_mixed_line_ends(void **state)
{
    (void)state;
    /* CR LF as one end, CR then CR as two, LF CR as two. */
    CHECK("data: a\r\n\r\ndata: b\r\rdata: c\n\rdata: d\r\n\n", 0,
          "message||-1|0|a\n"
          "message||-1|0|b\n"
          "message||-1|0|c\n"
          "message||-1|0|d\n",
          SSE_OK, 0);
    /* A CR LF read as two line ends would add a blank line inside these
     * events and split them. */
    CHECK("event: x\r\ndata: a\r\ndata: b\r\n\r\n"
          "event: y\rid: 2\rdata: c\rdata: d\r\r",
          0,
          "x||-1|0|a\nb\n"
          "y|2|-1|0|c\nd\n",
          SSE_OK, 0);
}

static void test_done_only_exact(void **state)
{
    (void)state;
    CHECK("data: [DONE]\n\ndata: [DONE] \n\ndata:[DONE]\n\n"
          "data: [DONE]\ndata: x\n\n",
          0,
          "message||-1|1|[DONE]\n"
          "message||-1|0|[DONE] \n"
          "message||-1|1|[DONE]\n"
          "message||-1|0|[DONE]\nx\n",
          SSE_OK, 0);
}

static void test_bom(void **state)
{
    (void)state;
    CHECK("\xEF\xBB\xBF"
          "data: a\n\n",
          0, "message||-1|0|a\n", SSE_OK, 0);
    /* Only one BOM is skipped: a second one is part of the field name. */
    CHECK("\xEF\xBB\xBF\xEF\xBB\xBF"
          "data: a\n\ndata: b\n\n",
          0,
          "message||-1|0|b\n", SSE_OK, 0);
    /* Half a BOM is content, not skipped. */
    CHECK("\xEF\xBB"
          "data: a\n\ndata: b\n\n",
          0,
          "message||-1|0|b\n", SSE_OK, 0);
    CHECK("\xEF\xBB", 0, "", SSE_OK, 1);
}

static void test_missing_final_blank_line(void **state)
{
    (void)state;
    CHECK("data: a\n\ndata: b\n", 0, "message||-1|0|a\n", SSE_OK, 1);
    CHECK("data: a\n\ndata: b", 0, "message||-1|0|a\n", SSE_OK, 1);
    CHECK("data: a\n\nevent: x\n", 0, "message||-1|0|a\n", SSE_OK, 1);
    CHECK("data: a\n\n: keepalive", 0, "message||-1|0|a\n", SSE_OK, 1);
    /* Whole events then comments or ids: nothing was cut. */
    CHECK("data: a\n\n: keepalive\nid: 3\n", 0, "message||-1|0|a\n",
          SSE_OK, 0);
    CHECK("data: a\r", 0, "", SSE_OK, 1);
    CHECK("data: a\r\r", 0, "message||-1|0|a\n", SSE_OK, 0);
}

static void test_limits(void **state)
{
    (void)state;
    /* max 16: lines and data of 16 bytes pass, 17 fail. */
    CHECK("data: 0123456789\n\n", 16, "message||-1|0|0123456789\n",
          SSE_OK, 0);
    CHECK("data: a\n\ndata: 0123456789X\n\ndata: b\n\n", 16,
          "message||-1|0|a\n", SSE_ETOOBIG, 1);
    /* Each line fits, the joined data does not. */
    CHECK("data: a\n\ndata: 01234567\ndata: 01234567\n\n", 16,
          "message||-1|0|a\n", SSE_ETOOBIG, 1);
    CHECK("data: 0123456\ndata: 01234567\n\n", 16,
          "message||-1|0|0123456\n01234567\n", SSE_OK, 0);
    CHECK("event: 0123456789X\n", 16, "", SSE_ETOOBIG, 1);
    CHECK(": a very long comment line\n", 16, "", SSE_ETOOBIG, 1);
}

/* A never-ending line fed byte by byte stops at max_event, buffers and all. */
static void test_memory_bounded(void **state)
{
    struct sse_parser p;
    struct run r;
    size_t i;
    int rc = SSE_OK;

    (void)state;
    memset(&r, 0, sizeof(r));
    sse_init(&p, 1000, record, &r);
    for (i = 0; i < 100000 && rc == SSE_OK; i++)
        rc = sse_feed(&p, i < 6 ? &"data: "[i] : "x", 1);
    assert_int_equal(rc, SSE_ETOOBIG);
    assert_int_equal(i, 1001);
    assert_true(p.line.cap <= 1000);
    assert_int_equal(sse_feed(&p, "\n\n", 2), SSE_ETOOBIG);
    assert_int_equal(r.events, 0);
    sse_free(&p);
}

/* Between events a parser holds no heap, even after the copy paths ran:
 * a line cut by a read, multi-line data, an event type. */
static void test_idle_holds_nothing(void **state)
{
    static const char *pieces[] = {
        "data: {\"a\":",
        "1}\n\n",
        "event: e\ndata: x\ndata: y\n\n",
        "data: whole\n\n",
    };
    struct sse_parser p;
    static struct run r;
    size_t i;

    (void)state;
    memset(&r, 0, sizeof(r));
    sse_init(&p, 0, record, &r);
    for (i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
        assert_int_equal(sse_feed(&p, pieces[i], strlen(pieces[i])), SSE_OK);
        if (i == 0)
            assert_true(p.line.cap > 0); /* the cut line waits */
        else
            assert_true(p.line.ptr == NULL && p.data.ptr == NULL &&
                        p.type.ptr == NULL);
    }
    assert_int_equal(r.events, 3);
    assert_string_equal(r.log, "message||-1|0|{\"a\":1}\n"
                               "e||-1|0|x\ny\n"
                               "message||-1|0|whole\n");
    sse_free(&p);
}

static void test_stop(void **state)
{
    static struct run whole;
    static const char s[] = "data: 1\n\ndata: 2\n\ndata: 3\n\n";

    (void)state;
    check_all_splits(&whole, 0, 2, s, sizeof(s) - 1);
    assert_string_equal(whole.log, "message||-1|0|1\nmessage||-1|0|2\n");
    assert_int_equal(whole.feed_rc, SSE_STOPPED);
    assert_int_equal(whole.cut, 0);
}

#define FEED(p, lit) sse_feed(p, lit, sizeof(lit) - 1)

/* sse_finish() makes the parser ready for a new stream: BOM, id, retry,
 * and a sticky result are all reset. */
static void test_finish_resets(void **state)
{
    struct sse_parser p;
    static struct run r;

    (void)state;
    memset(&r, 0, sizeof(r));
    sse_init(&p, 32, record, &r);
    assert_int_equal(FEED(&p, "\xEF\xBB\xBFid: 1\nretry: 5\ndata: a\n\n"
                              "data: 0123456789012345678901234567890\n"),
                     SSE_ETOOBIG);
    assert_int_equal(sse_finish(&p), 1);
    assert_int_equal(FEED(&p, "\xEF\xBB\xBF"
                              "data: b\n\ndata: c"),
                     SSE_OK);
    assert_int_equal(sse_finish(&p), 1);
    assert_int_equal(FEED(&p, "data: d\n\n"), SSE_OK);
    assert_int_equal(sse_finish(&p), 0);
    sse_free(&p);
    assert_string_equal(r.log, "message|1|5|0|a\n"
                               "message||-1|0|b\n"
                               "message||-1|0|d\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openai_stream),
        cmocka_unit_test(test_azure_stream),
        cmocka_unit_test(test_crlf_stream),
        cmocka_unit_test(test_cr_stream),
        cmocka_unit_test(test_zero_copy),
        cmocka_unit_test(test_multiline_data),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_id_with_nul),
        cmocka_unit_test(test_retry_saturates),
        cmocka_unit_test(test_mixed_line_ends),
        cmocka_unit_test(test_done_only_exact),
        cmocka_unit_test(test_bom),
        cmocka_unit_test(test_missing_final_blank_line),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_memory_bounded),
        cmocka_unit_test(test_idle_holds_nothing),
        cmocka_unit_test(test_stop),
        cmocka_unit_test(test_finish_resets),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
