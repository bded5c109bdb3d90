/*
 * fuzz_http_parse — the request parser (worker/server/http_parse.h): the
 * head scanner fed in pieces must find the same end (or error) as fed
 * whole; a found head is parsed and asked every question the server
 * asks; a chunked body after it is decoded in pieces and whole, and both
 * must give the same bytes and the same result.
 *
 * Input: byte 0 picks the cutting, byte 1 the limits, the rest is the
 * stream.
 */
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "worker/server/http_parse.h"

static struct h1f_field fields[HTTP_FIELDS_MAX];

/* Decodes in[0..n) as a chunked body into out (room for n bytes). Returns
 * the last result and the body's length in *olen. */
static int chunked(const char *in, size_t n, struct fuzz_cuts *c, char *out,
                   size_t *olen, size_t maxline)
{
    struct h1f_chunked st;
    size_t off = 0, end = 0;
    int r = H1F_CHUNK_MORE;

    h1f_chunked_init(&st, maxline);
    *olen = 0;
    while (off < n && r != H1F_CHUNK_DONE && r >= 0) {
        if (end <= off)
            end = off + fuzz_piece(c, n - off);
        const char *d = NULL;
        size_t used = 0, dl = 0;

        r = h1f_chunked_feed(&st, in + off, end - off, &used, &d, &dl);
        FUZZ_CHECK(used <= end - off);
        if (r == H1F_CHUNK_DATA) {
            FUZZ_CHECK(d >= in + off && d + dl <= in + off + used);
            FUZZ_CHECK(dl > 0);
            memcpy(out + *olen, d, dl);
            *olen += dl;
        } else if (r == H1F_CHUNK_MORE) {
            FUZZ_CHECK(used == end - off);
        }
        off += used;
    }
    if (r == H1F_CHUNK_DATA)
        r = H1F_CHUNK_MORE;
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    struct fuzz_cuts cuts = { data[0] };
    struct http_limits lim = { (data[1] & 1) ? 64 : 4094,
                               (data[1] & 2) ? 4 : 100,
                               (data[1] & 4) ? 32 : 8190 };
    const char *s = (const char *)data + 2;
    size_t n = size - 2;
    struct http_scan whole = { 0 }, inc = { 0 };
    long r = http_scan_head(&whole, s, n, &lim), ri = 0;

    for (size_t len = 0; len < n && ri == 0;) {
        len += fuzz_piece(&cuts, n - len);
        ri = http_scan_head(&inc, s, len, &lim);
    }
    /* an error may come earlier fed in pieces, never a different end */
    FUZZ_CHECK(ri == r || (r < 0 && ri < 0));
    if (r <= 0)
        return 0;
    FUZZ_CHECK((size_t)r <= n && whole.fields <= HTTP_FIELDS_MAX);

    char *head = malloc((size_t)r);
    struct http_head h;
    enum http_body kind;
    uint64_t length;

    FUZZ_CHECK(head != NULL);
    memcpy(head, s, (size_t)r);
    if (http_parse_head(head, (size_t)r, &h, fields, whole.fields) == 0) {
        FUZZ_CHECK(h.nfields <= whole.fields);
        const char *conn = http_head_get(&h, "connection");

        (void)http_head_host_ok(&h);
        (void)http_target_origin(h.target);
        (void)http_head_keepalive(&h);
        if (conn != NULL)
            (void)h1f_list_has(conn, "upgrade");
        if (http_head_body(&h, &kind, &length) == 0 &&
            kind == HTTP_BODY_CHUNKED) {
            const char *body = s + r;
            size_t bn = n - (size_t)r, l1, l2;
            char *o1 = malloc(bn + 1), *o2 = malloc(bn + 1);
            struct fuzz_cuts all = { 0 };
            size_t maxline = (data[1] & 8) ? 16 : 0;

            FUZZ_CHECK(o1 != NULL && o2 != NULL);
            int r1 = chunked(body, bn, &all, o1, &l1, maxline);
            int r2 = chunked(body, bn, &cuts, o2, &l2, maxline);
            FUZZ_CHECK(r1 == r2);
            FUZZ_CHECK(l1 == l2 && memcmp(o1, o2, l1) == 0);
            free(o1);
            free(o2);
        }
    }
    free(head);
    return 0;
}
