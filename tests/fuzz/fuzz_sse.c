/*
 * fuzz_sse — the text/event-stream parser (common/sse.h): a stream fed
 * whole and fed in pieces must give the same events (type, id, retry,
 * done, data) and the same feed and finish results. Each piece is copied
 * into its own heap block freed right after sse_feed(), so a pointer the
 * parser kept into the caller's bytes is caught by ASan.
 *
 * Input: byte 0 picks the cutting, byte 1 the event limit (0 = default,
 * else 1..255 bytes) and when the callback stops the parser, the rest is
 * the stream.
 */
#include <string.h>

#include "common/sse.h"
#include "tests/fuzz/fuzz.h"

struct run {
    uint64_t hash; /* FNV-1a over every event's fields */
    int events;
    int stop_at; /* the callback returns nonzero there; 0 never */
};

static void mix(struct run *r, const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++)
        r->hash = (r->hash ^ b[i]) * 1099511628211u;
    r->hash = (r->hash ^ n) * 1099511628211u; /* length-prefix-free */
}

static int record(const struct sse_event *ev, void *arg)
{
    struct run *r = arg;

    FUZZ_CHECK(ev->data != NULL || ev->data_len == 0);
    FUZZ_CHECK(ev->type != NULL && ev->id != NULL);
    FUZZ_CHECK(ev->done == (ev->data_len == 6 &&
                            memcmp(ev->data, "[DONE]", 6) == 0));
    mix(r, ev->data, ev->data_len);
    mix(r, ev->type, ev->type_len);
    mix(r, ev->id, ev->id_len);
    mix(r, &ev->retry, sizeof(ev->retry));
    r->events++;
    return r->stop_at != 0 && r->events == r->stop_at;
}

/* Feeds s[0..n) cut by c; returns the first nonzero feed result, and the
 * finish result in *cut. */
static int feed(struct sse_parser *p, const char *s, size_t n,
                struct fuzz_cuts *c, int *cut)
{
    int rc = 0;

    for (size_t off = 0; off < n && rc == 0;) {
        size_t k = fuzz_piece(c, n - off);
        char *piece = malloc(k);

        FUZZ_CHECK(piece != NULL);
        memcpy(piece, s + off, k);
        rc = sse_feed(p, piece, k);
        free(piece);
        off += k;
    }
    *cut = sse_finish(p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    struct fuzz_cuts cuts = { data[0] }, all = { 0 };
    size_t max = data[1] & 0x80 ? (size_t)(data[1] & 0x7f) + 1 : 0;
    int stop_at = data[1] & 0x80 ? 0 : data[1] & 7;
    struct run r1 = { 14695981039346656037u, 0, stop_at }, r2 = r1;
    struct sse_parser p;
    int cut1, cut2, rc1, rc2;

    sse_init(&p, max, record, &r1);
    rc1 = feed(&p, (const char *)data + 2, size - 2, &all, &cut1);
    sse_free(&p);
    sse_init(&p, max, record, &r2);
    rc2 = feed(&p, (const char *)data + 2, size - 2, &cuts, &cut2);
    sse_free(&p);
    FUZZ_CHECK(rc1 == rc2 && cut1 == cut2);
    FUZZ_CHECK(r1.events == r2.events && r1.hash == r2.hash);
    return 0;
}
