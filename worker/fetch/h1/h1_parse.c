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

/* Whether the comma-separated list v holds token t (case-insensitive). */
static int has_token(const char *v, const char *t)
{
    size_t tl = strlen(t);

    while (v != NULL && *v != '\0') {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        if (strncasecmp(v, t, tl) == 0 &&
            (v[tl] == '\0' || v[tl] == ',' || v[tl] == ' ' || v[tl] == '\t'))
            return 1;
        v = strchr(v, ',');
    }
    return 0;
}

/* Whether the last coding in a Transfer-Encoding list is chunked. */
static int chunked_last(const char *v)
{
    const char *last = strrchr(v, ',');

    return has_token(last != NULL ? last + 1 : v, "chunked");
}

static int status_line(const char *p, size_t len, int *minor, int *status)
{
    if (len < 12 || memcmp(p, "HTTP/1.", 7) != 0 || !is_digit(p[7]) ||
        p[8] != ' ' || !is_digit(p[9]) || !is_digit(p[10]) ||
        !is_digit(p[11]) || (p[12] != ' ' && p[12] != '\r' && p[12] != '\n'))
        return -1;
    *minor = p[7] - '0';
    *status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    return *status >= 100 ? 0 : -1;
}

/* One "name: value" line, NUL-terminated in place. */
static int field_line(char *p, struct h1_head *h, const char **why)
{
    char *colon = strchr(p, ':'), *v, *e;

    if (*p == ' ' || *p == '\t' || colon == NULL || colon == p ||
        colon[-1] == ' ' || colon[-1] == '\t') {
        *why = "upstream sent a malformed header line";
        return -1;
    }
    if (h->nfields == H1_HDR_MAX) {
        *why = "upstream sent too many header lines";
        return -1;
    }
    *colon = '\0';
    for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
        ;
    for (e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t'); e--)
        ;
    *e = '\0';
    h->field[h->nfields].name = p;
    h->field[h->nfields++].value = v;
    return 0;
}

/* Content-Length: digits only, every such field the same. */
static int content_length(const struct h1_head *h, int64_t *len)
{
    int seen = 0;

    for (int i = 0; i < h->nfields; i++) {
        const char *v = h->field[i].value;
        int64_t n = 0;

        if (strcasecmp(h->field[i].name, "content-length") != 0)
            continue;
        if (*v == '\0')
            return -1;
        for (; *v != '\0'; v++) {
            if (!is_digit(*v) || n > (INT64_MAX - 9) / 10)
                return -1;
            n = n * 10 + (*v - '0');
        }
        if (seen && n != *len)
            return -1;
        *len = n;
        seen = 1;
    }
    return seen;
}

static int framing(struct h1_head *h, int minor, int head_req,
                   const char **why)
{
    const char *te = h1_head_get(h, "transfer-encoding");
    const char *conn = h1_head_get(h, "connection");
    int cl;

    h->keep_alive = minor >= 1 ? !has_token(conn, "close")
                               : has_token(conn, "keep-alive");
    h->length = 0;
    if (h->status < 200 || h->status == 204 || h->status == 304 || head_req)
        h->framing = H1_F_NONE;
    else if (te != NULL && chunked_last(te))
        h->framing = H1_F_CHUNKED;
    else if (te != NULL) {
        h->framing = H1_F_CLOSE;    /* RFC 9112 6.3: read to the close */
        h->keep_alive = 0;
    } else if ((cl = content_length(h, &h->length)) < 0) {
        *why = "upstream sent an invalid Content-Length";
        return -1;
    } else if (cl > 0)
        h->framing = H1_F_LENGTH;
    else {
        h->framing = H1_F_CLOSE;
        h->keep_alive = 0;
    }
    return 0;
}

int h1_head_parse(char *buf, size_t len, int head_req, struct h1_head *h,
                  const char **why)
{
    char *p, *end = buf + len, *eol;
    int minor;

    h->nfields = 0;
    if (status_line(buf, len, &minor, &h->status) != 0) {
        *why = "upstream sent a malformed status line";
        return -1;
    }
    p = memchr(buf, '\n', len) + 1;
    while (p < end && (eol = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        char *le = eol > p && eol[-1] == '\r' ? eol - 1 : eol;

        if (le == p)
            break;      /* the blank line */
        *le = '\0';
        if (memchr(p, '\0', (size_t)(le - p)) != NULL) {
            *why = "upstream sent a NUL in its head";
            return -1;
        }
        if (field_line(p, h, why) != 0)
            return -1;
        p = eol + 1;
    }
    return framing(h, minor, head_req, why);
}

const char *h1_head_get(const struct h1_head *h, const char *name)
{
    for (int i = 0; i < h->nfields; i++)
        if (strcasecmp(h->field[i].name, name) == 0)
            return h->field[i].value;
    return NULL;
}

/* ---- the body ---- */

enum { CS_SIZE, CS_EXT, CS_DATA, CS_DATA_CR, CS_DATA_LF, CS_TRAILER };

void h1_body_init(struct h1_body *b, const struct h1_head *h)
{
    memset(b, 0, sizeof *b);
    b->framing = h->framing;
    b->left = h->framing == H1_F_LENGTH ? h->length : 0;
}

static int hexval(char c)
{
    if (is_digit(c))
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* One byte of the framing around the chunks' data. Returns 1 when the
 * byte was used, 0 when it starts the next state, -1 on an error, 2 at
 * the body's end (byte used). */
static int chunk_byte(struct h1_body *b, char c)
{
    int d;

    switch (b->state) {
    case CS_SIZE:
        if ((d = hexval(c)) >= 0) {
            if (++b->digits > 15)
                return -1;      /* more than 2^60: no real answer */
            b->left = b->left * 16 + d;
            return 1;
        }
        if (b->digits == 0)
            return -1;
        b->state = CS_EXT;
        return 0;
    case CS_EXT:                /* ";name=value" extensions are ignored */
        if (c != '\n')
            return 1;
        b->digits = 0;
        b->blank = 1;
        b->state = b->left > 0 ? CS_DATA : CS_TRAILER;
        return 1;
    case CS_DATA_CR:
        if (c == '\r') {
            b->state = CS_DATA_LF;
            return 1;
        }
        /* a bare LF ends the chunk too */
        __attribute__((fallthrough));
    case CS_DATA_LF:
        if (c != '\n')
            return -1;
        b->state = CS_SIZE;
        return 1;
    default:                    /* CS_TRAILER: lines up to a blank one */
        if (c == '\r')
            return 1;
        if (c != '\n') {
            b->blank = 0;
            return 1;
        }
        if (b->blank)
            return 2;
        b->blank = 1;
        return 1;
    }
}

static enum h1_next chunked_next(struct h1_body *b, const char *in, size_t n,
                                 size_t *used, const char **piece,
                                 size_t *plen)
{
    size_t i = 0;

    while (i < n) {
        int r;

        if (b->state == CS_DATA) {
            size_t k = n - i < (uint64_t)b->left ? n - i : (size_t)b->left;

            *piece = in + i;
            *plen = k;
            b->left -= (int64_t)k;
            if (b->left == 0)
                b->state = CS_DATA_CR;
            *used = i + k;
            return H1_PIECE;
        }
        if ((r = chunk_byte(b, in[i])) < 0)
            return H1_BAD;
        if (r > 0)
            i++;
        if (r == 2) {
            *used = i;
            return H1_END;
        }
    }
    *used = n;
    return H1_MORE;
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
