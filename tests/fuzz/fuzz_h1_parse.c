/*
 * fuzz_h1_parse — the upstream response parser (worker/fetch/h1/
 * h1_parse.h): the head's end is found at the same place in any prefix
 * that holds it; a parsed head has a sane framing; its body is decoded
 * in pieces and whole, and both give the same bytes and the same end.
 *
 * Input: byte 0 picks the cutting, byte 1 bit 0 a HEAD request, the rest
 * is the response.
 */
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "worker/fetch/h1/h1_parse.h"

static enum h1_next body(const struct h1_head *h, const char *in, size_t n,
                         struct fuzz_cuts *c, char *out, size_t *olen)
{
    struct h1_body b;
    size_t off = 0, end = 0;
    enum h1_next r = H1_MORE;

    h1_body_init(&b, h);
    *olen = 0;
    while (off < n && (r == H1_MORE || r == H1_PIECE)) {
        if (end <= off)
            end = off + fuzz_piece(c, n - off);
        const char *p = NULL;
        size_t used = 0, plen = 0;

        r = h1_body_next(&b, in + off, end - off, &used, &p, &plen);
        FUZZ_CHECK(used <= end - off);
        if (r == H1_PIECE) {
            FUZZ_CHECK(p >= in + off && p + plen <= in + off + used);
            memcpy(out + *olen, p, plen);
            *olen += plen;
        } else if (r == H1_MORE) {
            FUZZ_CHECK(used == end - off);
        }
        off += used;
    }
    if (r == H1_PIECE)
        r = H1_MORE;
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    struct fuzz_cuts cuts = { data[0] };
    const char *s = (const char *)data + 2;
    size_t n = size - 2, len = h1_head_end(s, n);

    if (len == 0)
        return 0;
    FUZZ_CHECK(len <= n);
    FUZZ_CHECK(h1_head_end(s, len) == len && h1_head_end(s, len - 1) == 0);

    char *head = malloc(len);
    struct h1_head h;
    const char *why = NULL;

    FUZZ_CHECK(head != NULL);
    memcpy(head, s, len);
    if (h1_head_parse(head, len, data[1] & 1, &h, &why) != 0) {
        FUZZ_CHECK(why != NULL);
    } else {
        FUZZ_CHECK(h.status >= 100 && h.status <= 999);
        FUZZ_CHECK(h.nfields >= 0 && h.nfields <= H1_HDR_MAX);
        FUZZ_CHECK(h.framing != H1_F_LENGTH || h.length >= 0);
        (void)h1_head_get(&h, "content-type");

        const char *in = s + len;
        size_t bn = n - len, l1, l2;
        char *o1 = malloc(bn + 1), *o2 = malloc(bn + 1);
        struct fuzz_cuts all = { 0 };

        FUZZ_CHECK(o1 != NULL && o2 != NULL);
        enum h1_next r1 = body(&h, in, bn, &all, o1, &l1);
        enum h1_next r2 = body(&h, in, bn, &cuts, o2, &l2);
        FUZZ_CHECK(r1 == r2);
        FUZZ_CHECK(l1 == l2 && memcmp(o1, o2, l1) == 0);
        FUZZ_CHECK(h.framing != H1_F_LENGTH || l1 <= (size_t)h.length);
        free(o1);
        free(o2);
    }
    free(head);
    return 0;
}
