/* h1f — see h1f.h. */
#include "worker/http1/h1f.h"

#include <string.h>
#include <strings.h>

#define H1F_LINE_DEFAULT 8190
#define H1F_TRAILERS_MAX 100

int h1f_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

int h1f_vchar(unsigned char c)
{
    return c == '\t' || (c >= ' ' && c != 0x7f);
}

char *h1f_line(char **p, char *end)
{
    char *s = *p;
    char *lf = memchr(s, '\n', (size_t)(end - s));

    if (lf == NULL)
        return NULL;
    *p = lf + 1;
    if (lf > s && lf[-1] == '\r')
        lf--;
    size_t n = (size_t)(lf - s);
    if (memchr(s, '\r', n) || memchr(s, '\0', n))
        return NULL;
    *lf = '\0';
    return s;
}

int h1f_field_parse(char *line, struct h1f_field *f)
{
    char *colon = line;

    while (h1f_tchar((unsigned char)*colon))
        colon++;
    if (colon == line || *colon != ':')
        return -1;
    *colon = '\0';
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    char *e = v + strlen(v);
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *e = '\0';
    for (const unsigned char *c = (unsigned char *)v; *c; c++)
        if (!h1f_vchar(*c))
            return -1;
    f->name = line;
    f->value = v;
    return 0;
}

const char *h1f_get(const struct h1f_field *fields, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcasecmp(fields[i].name, name) == 0)
            return fields[i].value;
    return NULL;
}

int h1f_list_has(const char *value, const char *token)
{
    size_t tl = strlen(token);
    const char *p = value;

    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *s = p;
        while (*p && *p != ',')
            p++;
        const char *e = p;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == tl && strncasecmp(s, token, tl) == 0)
            return 1;
    }
    return 0;
}

int h1f_content_length(const struct h1f_field *fields, int n, uint64_t *len)
{
    int seen = 0;

    for (int i = 0; i < n; i++) {
        const char *v = fields[i].value;
        uint64_t x = 0;

        if (strcasecmp(fields[i].name, "Content-Length") != 0)
            continue;
        if (*v == '\0')
            return -1;
        for (; *v; v++) {
            if (*v < '0' || *v > '9' ||
                x > ((uint64_t)INT64_MAX - (uint64_t)(*v - '0')) / 10)
                return -1;
            x = x * 10 + (uint64_t)(*v - '0');
        }
        if (seen && x != *len)
            return -1;
        *len = x;
        seen = 1;
    }
    return seen;
}

/* ---- chunked ---- */

enum {
    CS_SIZE,     /* hex digits */
    CS_SIZE_BWS, /* after them: BWS, then ';', or the line's end */
    CS_EXT,      /* ";name=value" extensions, ignored */
    CS_SIZE_LF,
    CS_DATA,
    CS_DATA_CR,
    CS_DATA_LF,
    CS_TRAILER, /* the start of a trailer line, or the blank line */
    CS_TR_NAME,
    CS_TR_VALUE,
    CS_TR_LF,
    CS_END_LF,
    CS_DONE,
};

void h1f_chunked_init(struct h1f_chunked *st, size_t maxline)
{
    memset(st, 0, sizeof(*st));
    st->maxline = maxline ? maxline : H1F_LINE_DEFAULT;
}

int h1f_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Enters state s at the start of a line. */
static int line_start(struct h1f_chunked *st, int s)
{
    st->state = s;
    st->linelen = 0;
    st->digits = 0;
    return 0;
}

/* The end of a size line, its LF read. */
static int size_end(struct h1f_chunked *st)
{
    return line_start(st, st->left ? CS_DATA : CS_TRAILER);
}

/* A line's end: 0 for a CR (then state lf expects the LF), 1 for a bare
 * LF (the line has ended), -1 for any other byte. */
static int line_end(struct h1f_chunked *st, unsigned char c, int lf)
{
    if (c == '\r') {
        st->state = lf;
        return 0;
    }
    return c == '\n' ? 1 : -1;
}

/* One framing byte; returns 0, H1F_CHUNK_DONE or H1F_CHUNK_BAD. */
static int chunk_byte(struct h1f_chunked *st, unsigned char c)
{
    int d, r;

    if (++st->linelen > st->maxline)
        return H1F_CHUNK_BAD;
    switch (st->state) {
    case CS_SIZE:
        if ((d = h1f_hexval(c)) >= 0) {
            if (++st->digits > 15)
                return H1F_CHUNK_BAD; /* over 2^60: no real body */
            st->left = st->left * 16 + (uint64_t)d;
            return 0;
        }
        if (st->digits == 0)
            return H1F_CHUNK_BAD;
        st->state = CS_SIZE_BWS;
        /* fall through - the byte after the digits */
    case CS_SIZE_BWS:
        if (c == ' ' || c == '\t')
            return 0;
        if (c == ';') {
            st->state = CS_EXT;
            return 0;
        }
        r = line_end(st, c, CS_SIZE_LF);
        return r > 0 ? size_end(st) : r < 0 ? H1F_CHUNK_BAD
                                            : 0;
    case CS_EXT:
        if (c != '\r' && c != '\n')
            return h1f_vchar(c) ? 0 : H1F_CHUNK_BAD;
        r = line_end(st, c, CS_SIZE_LF);
        return r > 0 ? size_end(st) : 0;
    case CS_SIZE_LF:
        return c == '\n' ? size_end(st) : H1F_CHUNK_BAD;
    case CS_DATA_CR:
        r = line_end(st, c, CS_DATA_LF);
        return r > 0 ? line_start(st, CS_SIZE) : r < 0 ? H1F_CHUNK_BAD
                                                       : 0;
    case CS_DATA_LF:
        return c == '\n' ? line_start(st, CS_SIZE) : H1F_CHUNK_BAD;
    case CS_TRAILER:
        if (h1f_tchar(c)) {
            if (++st->trailers > H1F_TRAILERS_MAX)
                return H1F_CHUNK_BAD;
            st->state = CS_TR_NAME;
            return 0;
        }
        r = line_end(st, c, CS_END_LF);
        return r > 0 ? H1F_CHUNK_DONE : r < 0 ? H1F_CHUNK_BAD
                                              : 0;
    case CS_TR_NAME: /* as h1f_field_parse: tchars, then ':' */
        if (c == ':')
            st->state = CS_TR_VALUE;
        return c == ':' || h1f_tchar(c) ? 0 : H1F_CHUNK_BAD;
    case CS_TR_VALUE:
        if (c != '\r' && c != '\n')
            return h1f_vchar(c) ? 0 : H1F_CHUNK_BAD;
        r = line_end(st, c, CS_TR_LF);
        return r > 0 ? line_start(st, CS_TRAILER) : 0;
    case CS_TR_LF:
        return c == '\n' ? line_start(st, CS_TRAILER) : H1F_CHUNK_BAD;
    case CS_END_LF:
        return c == '\n' ? H1F_CHUNK_DONE : H1F_CHUNK_BAD;
    default:
        return H1F_CHUNK_BAD;
    }
}

int h1f_chunked_feed(struct h1f_chunked *st, const char *in, size_t len,
                     size_t *used, const char **data, size_t *dlen)
{
    size_t i = 0;

    *used = 0;
    if (st->state == CS_DONE)
        return H1F_CHUNK_DONE;
    while (i < len) {
        if (st->state == CS_DATA) {
            size_t n = len - i < st->left ? len - i : (size_t)st->left;

            st->left -= n;
            if (st->left == 0)
                st->state = CS_DATA_CR;
            *data = in + i;
            *dlen = n;
            *used = i + n;
            return H1F_CHUNK_DATA;
        }
        int r = chunk_byte(st, (unsigned char)in[i++]);
        if (r == H1F_CHUNK_BAD)
            return r;
        if (r == H1F_CHUNK_DONE) {
            st->state = CS_DONE;
            *used = i;
            return r;
        }
    }
    *used = i;
    return H1F_CHUNK_MORE;
}
