/* h1_parse — see h1_parse.h. RFC 9112's rules, as curl and nginx apply
 * them to an upstream's response. */
#include "worker/fetch/h1/h1_parse.h"

#include <string.h>
#include <strings.h>

size_t h1_head_end(const char *p, size_t n)
{
    const char *end = p + n;
    const char *q = memchr(p, '\n', n);

    while (q != NULL) {
        const char *r = q + 1;

        if (r < end && *r == '\n')
            return (size_t)(r + 1 - p);
        if (r + 1 < end && r[0] == '\r' && r[1] == '\n')
            return (size_t)(r + 2 - p);
        q = r < end ? memchr(r, '\n', (size_t)(end - r)) : NULL;
    }
    return 0;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Whether the last coding in a Transfer-Encoding list is chunked. */
static int chunked_last(const char *v)
{
    const char *last = strrchr(v, ',');

    return h1f_list_has(last != NULL ? last + 1 : v, "chunked");
}

/* The status line, NUL-terminated by h1f_line. */
static int status_line(const char *p, int *minor, int *status)
{
    if (strncmp(p, "HTTP/1.", 7) != 0 || !is_digit(p[7]) || p[8] != ' ' ||
        !is_digit(p[9]) || !is_digit(p[10]) || !is_digit(p[11]) ||
        (p[12] != ' ' && p[12] != '\0'))
        return -1;
    *minor = p[7] - '0';
    *status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    return *status >= 100 ? 0 : -1;
}

/* One "name: value" line, NUL-terminated by h1f_line. */
static int field_line(char *p, struct h1_head *h, const char **why)
{
    if (h->nfields == H1_HDR_MAX) {
        *why = "upstream sent too many header lines";
        return -1;
    }
    if (h1f_field_parse(p, &h->field[h->nfields]) != 0) {
        *why = "upstream sent a malformed header line";
        return -1;
    }
    h->nfields++;
    return 0;
}

static int framing(struct h1_head *h, int minor, int head_req,
                   const char **why)
{
    const char *te = h1_head_get(h, "transfer-encoding");
    const char *conn = h1_head_get(h, "connection");
    uint64_t len = 0;
    int cl = h1f_content_length(h->field, h->nfields, &len);

    h->keep_alive = minor >= 1 ? conn == NULL || !h1f_list_has(conn, "close")
                               : conn != NULL && h1f_list_has(conn, "keep-alive");
    h->length = 0;
    if (cl < 0) {
        *why = "upstream sent an invalid Content-Length";
        return -1;
    }
    if (te != NULL && cl > 0) {
        *why = "upstream sent both Transfer-Encoding and Content-Length";
        return -1;
    }
    if (h->status < 200 || h->status == 204 || h->status == 304 || head_req)
        h->framing = H1_F_NONE;
    else if (te != NULL && chunked_last(te))
        h->framing = H1_F_CHUNKED;
    else if (cl > 0) {
        h->framing = H1_F_LENGTH;
        h->length = (int64_t)len;
    } else {
        h->framing = H1_F_CLOSE; /* RFC 9112 6.3: read to the close */
        h->keep_alive = 0;
    }
    return 0;
}

int h1_head_parse(char *buf, size_t len, int head_req, struct h1_head *h,
                  const char **why)
{
    char *p = buf, *end = buf + len, *line;
    int minor;

    h->nfields = 0;
    line = h1f_line(&p, end);
    if (line == NULL || status_line(line, &minor, &h->status) != 0) {
        *why = "upstream sent a malformed status line";
        return -1;
    }
    while ((line = h1f_line(&p, end)) != NULL && *line != '\0')
        if (field_line(line, h, why) != 0)
            return -1;
    if (line == NULL) {
        *why = "upstream sent a bare CR or a NUL in its head";
        return -1;
    }
    return framing(h, minor, head_req, why);
}

const char *h1_head_get(const struct h1_head *h, const char *name)
{
    return h1f_get(h->field, h->nfields, name);
}

/* ---- the body ---- */

void h1_body_init(struct h1_body *b, const struct h1_head *h)
{
    memset(b, 0, sizeof *b);
    b->framing = h->framing;
    b->left = h->framing == H1_F_LENGTH ? h->length : 0;
    h1f_chunked_init(&b->chunked, 0);
}

static enum h1_next chunked_next(struct h1_body *b, const char *in, size_t n,
                                 size_t *used, const char **piece,
                                 size_t *plen)
{
    switch (h1f_chunked_feed(&b->chunked, in, n, used, piece, plen)) {
    case H1F_CHUNK_DATA:
        return H1_PIECE;
    case H1F_CHUNK_DONE:
        return H1_END;
    case H1F_CHUNK_MORE:
        return H1_MORE;
    default:
        return H1_BAD;
    }
}

enum h1_next h1_body_next(struct h1_body *b, const char *in, size_t n,
                          size_t *used, const char **piece, size_t *plen)
{
    *used = 0;
    switch (b->framing) {
    case H1_F_NONE:
        return H1_END;
    case H1_F_CHUNKED:
        return chunked_next(b, in, n, used, piece, plen);
    case H1_F_LENGTH:
        if (b->left == 0)
            return H1_END;
        if (n == 0)
            return H1_MORE;
        *plen = n < (uint64_t)b->left ? n : (size_t)b->left;
        b->left -= (int64_t)*plen;
        break;
    default:
        if (n == 0)
            return H1_MORE;
        *plen = n;
        break;
    }
    *piece = in;
    *used = *plen;
    return H1_PIECE;
}
