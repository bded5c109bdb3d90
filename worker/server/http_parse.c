/*
 * http_parse — see http_parse.h. Strict where laxness enables request
 * smuggling (conflicting lengths, obs-fold, whitespace before ':', bare CR),
 * lenient where it costs nothing (bare LF line ends, leading empty lines).
 */
#include "worker/server/http_parse.h"

#include <string.h>
#include <strings.h>

#define HTTP_LINE_DEFAULT 8190

static int is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
        (ch >= '0' && ch <= '9'))
        return 1;
    return ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static int hexval(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* A line's length without its CR, given the offsets of its start and LF. */
static size_t line_len(const char *buf, size_t start, size_t lf)
{
    size_t n = lf - start;
    return n > 0 && buf[lf - 1] == '\r' ? n - 1 : n;
}

static long scan_line(struct http_scan *st, size_t n,
                      const struct http_limits *lim)
{
    if (!st->in_fields) {
        if (n == 0)
            return 0;           /* empty lines before a request: skipped */
        if (lim->line && n > lim->line)
            return -414;
        st->in_fields = 1;
        return 0;
    }
    if (n == 0)
        return 1;               /* the head's end */
    st->fields++;
    if (st->fields > (lim->fields > 0 ? lim->fields : HTTP_FIELDS_MAX))
        return -431;
    if (lim->field_size && n > lim->field_size)
        return -431;
    return 0;
}

long http_scan_head(struct http_scan *st, const char *buf, size_t len,
                    const struct http_limits *lim)
{
    while (st->pos < len) {
        const char *lf = memchr(buf + st->pos, '\n', len - st->pos);
        if (lf == NULL)
            break;
        size_t at = (size_t)(lf - buf);
        long r = scan_line(st, line_len(buf, st->line_start, at), lim);
        st->pos = st->line_start = at + 1;
        if (r < 0)
            return r;
        if (st->pos > HTTP_HEAD_HARD_MAX)
            return -431;
        if (r == 1)
            return (long)st->pos;
    }
    st->pos = len;
    /* A line still arriving: refuse it as soon as it is too long (+1 for
     * a CR that may end it). */
    size_t partial = len - st->line_start;
    if (!st->in_fields && lim->line && partial > lim->line + 1)
        return -414;
    if (st->in_fields && lim->field_size && partial > lim->field_size + 1)
        return -431;
    if (len > HTTP_HEAD_HARD_MAX)
        return st->in_fields ? -431 : -414;
    return 0;
}

/* Cuts the line at *p (ending in LF, maybe CRLF) and advances *p past it.
 * Returns the line, NUL-terminated, or NULL if a CR appears elsewhere or
 * a NUL anywhere: the line is then read as a C string, and a NUL would
 * cut it short unseen (a line starting with one would even end the head,
 * leaving its Content-Length to be read as the next request). */
static char *next_line(char **p, char *end)
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

static int parse_version(const char *v, int *minor)
{
    if (strncmp(v, "HTTP/", 5) != 0 || !(v[5] >= '0' && v[5] <= '9') ||
        v[6] != '.' || !(v[7] >= '0' && v[7] <= '9') || v[8] != '\0')
        return -400;
    if (v[5] != '1')
        return -505;
    *minor = v[7] - '0';
    return 0;
}

static int parse_request_line(char *line, struct http_head *h)
{
    char *sp1 = strchr(line, ' ');
    if (sp1 == NULL || sp1 == line)
        return -400;
    char *sp2 = strchr(sp1 + 1, ' ');
    if (sp2 == NULL || sp2 == sp1 + 1)
        return -400;
    *sp1 = *sp2 = '\0';
    for (const char *m = line; *m; m++)
        if (!is_tchar((unsigned char)*m))
            return -400;
    for (const unsigned char *t = (unsigned char *)sp1 + 1; *t; t++)
        if (*t <= ' ' || *t == 0x7f)
            return -400;
    h->method = line;
    h->target = sp1 + 1;
    return parse_version(sp2 + 1, &h->minor);
}

static int parse_field(char *line, struct http_field *f)
{
    char *colon = line;
    while (is_tchar((unsigned char)*colon))
        colon++;
    if (colon == line || *colon != ':')
        return -400;        /* also obs-fold and space before ':' */
    *colon = '\0';
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    char *e = v + strlen(v);
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *e = '\0';
    for (const unsigned char *c = (unsigned char *)v; *c; c++)
        if ((*c < ' ' && *c != '\t') || *c == 0x7f)
            return -400;
    f->name = line;
    f->value = v;
    return 0;
}

int http_parse_head(char *buf, size_t len, struct http_head *h,
                    struct http_field *fields, int maxfields)
{
    char *p = buf, *end = buf + len, *line;
    memset(h, 0, sizeof(*h));
    h->fields = fields;
    do {
        line = next_line(&p, end);
        if (line == NULL)
            return -400;
    } while (*line == '\0');
    int r = parse_request_line(line, h);
    if (r < 0)
        return r;
    for (;;) {
        line = next_line(&p, end);
        if (line == NULL)
            return -400;
        if (*line == '\0')
            return 0;
        if (h->nfields == maxfields)
            return -400;
        r = parse_field(line, &fields[h->nfields]);
        if (r < 0)
            return r;
        h->nfields++;
    }
}

int http_head_host_ok(const struct http_head *h)
{
    int n = 0;

    for (int i = 0; i < h->nfields; i++)
        n += strcasecmp(h->fields[i].name, "Host") == 0;
    return n == 1 || (n == 0 && h->minor == 0);
}

const char *http_head_get(const struct http_head *h, const char *name)
{
    for (int i = 0; i < h->nfields; i++)
        if (strcasecmp(h->fields[i].name, name) == 0)
            return h->fields[i].value;
    return NULL;
}

const char *http_target_origin(const char *target)
{
    /* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), RFC 3986 */
    const char *p = target;
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        return target;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
           (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.')
        p++;
    if (strncmp(p, "://", 3) != 0)
        return target;
    return p + 3 + strcspn(p + 3, "/?#");
}

int http_list_has(const char *value, const char *token)
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

int http_head_keepalive(const struct http_head *h)
{
    const char *c = http_head_get(h, "Connection");
    if (h->minor >= 1)
        return c == NULL || !http_list_has(c, "close");
    return c != NULL && http_list_has(c, "keep-alive");
}

static int parse_length(const char *v, uint64_t *out)
{
    uint64_t n = 0;
    if (*v == '\0')
        return -400;
    for (; *v; v++) {
        if (*v < '0' || *v > '9' || n > (UINT64_MAX - 9) / 10)
            return -400;
        n = n * 10 + (uint64_t)(*v - '0');
    }
    *out = n;
    return 0;
}

int http_head_body(const struct http_head *h, enum http_body *kind,
                   uint64_t *length)
{
    int ncl = 0, nte = 0;
    const char *te = NULL;
    *kind = HTTP_BODY_NONE;
    *length = 0;
    for (int i = 0; i < h->nfields; i++) {
        const struct http_field *f = &h->fields[i];
        if (strcasecmp(f->name, "Content-Length") == 0) {
            uint64_t n;
            if (parse_length(f->value, &n) < 0 || (ncl++ && n != *length))
                return -400;
            *length = n;
        } else if (strcasecmp(f->name, "Transfer-Encoding") == 0) {
            te = f->value;
            nte++;
        }
    }
    if (nte && ncl)
        return -400;
    if (nte > 1)
        return -501;
    if (te != NULL) {
        if (strcasecmp(te, "chunked") != 0)
            return -501;
        *kind = HTTP_BODY_CHUNKED;
    } else if (ncl && *length > 0) {
        *kind = HTTP_BODY_LENGTH;
    }
    return 0;
}

/* ---- chunked ---- */

enum {
    CS_SIZE, CS_EXT, CS_SIZE_LF, CS_DATA, CS_DATA_CR, CS_DATA_LF,
    CS_TRAILER, CS_TRAILER_LINE, CS_END_LF, CS_DONE,
};

#define CHUNK_TRAILERS_MAX 100

void http_chunked_init(struct http_chunked *st, size_t maxline)
{
    memset(st, 0, sizeof(*st));
    st->maxline = maxline ? maxline : HTTP_LINE_DEFAULT;
}

static int size_line_end(struct http_chunked *st)
{
    if (st->digits == 0)
        return -400;
    st->state = st->left ? CS_DATA : CS_TRAILER;
    st->linelen = 0;
    return 0;
}

/* One framing byte; returns 0, HTTP_CHUNK_DONE or -400. */
static int chunk_byte(struct http_chunked *st, unsigned char ch)
{
    if (++st->linelen > st->maxline)
        return -400;
    switch (st->state) {
    case CS_SIZE:
        if (hexval(ch) >= 0) {
            if (++st->digits > 15)
                return -400;
            st->left = st->left * 16 + (uint64_t)hexval(ch);
            return 0;
        }
        if (ch == ';' || ch == ' ' || ch == '\t') {
            st->state = CS_EXT;
            return st->digits ? 0 : -400;
        }
        /* fall through - the size line may end here */
    case CS_EXT:
        if (ch == '\r') {
            st->state = CS_SIZE_LF;
            return 0;
        }
        if (ch == '\n')
            return size_line_end(st);
        return st->state == CS_EXT && ch >= ' ' ? 0 : -400;
    case CS_SIZE_LF:
        return ch == '\n' ? size_line_end(st) : -400;
    case CS_DATA_CR:
        if (ch == '\r') {
            st->state = CS_DATA_LF;
            return 0;
        }
        /* fall through - a bare LF */
    case CS_DATA_LF:
        if (ch != '\n')
            return -400;
        st->state = CS_SIZE;
        st->digits = 0;
        st->linelen = 0;
        return 0;
    case CS_TRAILER:
        if (ch == '\r') {
            st->state = CS_END_LF;
            return 0;
        }
        if (ch == '\n')
            return HTTP_CHUNK_DONE;
        if (++st->trailers > CHUNK_TRAILERS_MAX)
            return -400;
        st->state = CS_TRAILER_LINE;
        return 0;
    case CS_TRAILER_LINE:
        if (ch == '\n') {
            st->state = CS_TRAILER;
            st->linelen = 0;
        }
        return 0;
    case CS_END_LF:
        return ch == '\n' ? HTTP_CHUNK_DONE : -400;
    default:
        return -400;
    }
}

int http_chunked_feed(struct http_chunked *st, const char *in, size_t len,
                      size_t *used, const char **data, size_t *dlen)
{
    size_t i = 0;
    while (i < len) {
        if (st->state == CS_DATA) {
            size_t n = len - i < st->left ? len - i : (size_t)st->left;
            st->left -= n;
            if (st->left == 0)
                st->state = CS_DATA_CR;
            *data = in + i;
            *dlen = n;
            *used = i + n;
            return HTTP_CHUNK_DATA;
        }
        int r = chunk_byte(st, (unsigned char)in[i++]);
        if (r < 0)
            return r;
        if (r == HTTP_CHUNK_DONE) {
            st->state = CS_DONE;
            *used = i;
            return HTTP_CHUNK_DONE;
        }
    }
    *used = i;
    return HTTP_CHUNK_MORE;
}
