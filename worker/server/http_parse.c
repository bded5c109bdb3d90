/*
 * http_parse — see http_parse.h. Strict where laxness enables request
 * smuggling (conflicting lengths, obs-fold, whitespace before ':', bare CR),
 * lenient where it costs nothing (bare LF line ends, leading empty lines).
 */
#include "worker/server/http_parse.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

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
            return 0; /* empty lines before a request: skipped */
        if (lim->line && n > lim->line)
            return -414;
        st->in_fields = 1;
        return 0;
    }
    if (n == 0)
        return 1; /* the head's end */
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
        if (!h1f_tchar((unsigned char)*m))
            return -400;
    for (const unsigned char *t = (unsigned char *)sp1 + 1; *t; t++)
        if (*t <= ' ' || *t == 0x7f)
            return -400;
    h->method = line;
    h->target = sp1 + 1;
    return parse_version(sp2 + 1, &h->minor);
}

int http_parse_head(char *buf, size_t len, struct http_head *h,
                    struct h1f_field *fields, int maxfields)
{
    char *p = buf, *end = buf + len, *line;
    memset(h, 0, sizeof(*h));
    h->fields = fields;
    do {
        line = h1f_line(&p, end);
        if (line == NULL)
            return -400;
    } while (*line == '\0');
    int r = parse_request_line(line, h);
    if (r < 0)
        return r;
    for (;;) {
        line = h1f_line(&p, end);
        if (line == NULL)
            return -400;
        if (*line == '\0')
            return 0;
        if (h->nfields == maxfields)
            return -400;
        if (h1f_field_parse(line, &fields[h->nfields]) < 0)
            return -400; /* also obs-fold and space before ':' */
        h->nfields++;
    }
}

/* RFC 3986 3.2.2's reg-name (which IPv4 addresses fit too): unreserved,
 * pct-encoded and sub-delims characters; returns where it stops. */
static const char *reg_name_end(const char *p)
{
    for (;;) {
        if (*p == '%' && h1f_hexval((unsigned char)p[1]) >= 0 &&
            h1f_hexval((unsigned char)p[2]) >= 0)
            p += 3;
        else if (*p != '\0' && (((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z') ||
                                (*p >= '0' && *p <= '9') ||
                                strchr("-._~!$&'()*+,;=", *p) != NULL))
            p++;
        else
            return p;
    }
}

/* A Host value: empty (RFC 9112 3.2, a target without authority), or
 * uri-host [":" port] with uri-host a reg-name or an [IPv6] literal. */
static int host_value_ok(const char *v)
{
    const char *p = v;
    if (*p == '[') {
        const char *e = strchr(p, ']');
        char a[INET6_ADDRSTRLEN];
        struct in6_addr six;
        if (e == NULL || (size_t)(e - p - 1) >= sizeof(a))
            return 0;
        memcpy(a, p + 1, (size_t)(e - p - 1));
        a[e - p - 1] = '\0';
        if (inet_pton(AF_INET6, a, &six) != 1)
            return 0;
        p = e + 1;
    } else {
        p = reg_name_end(p);
    }
    if (*p == ':')
        p += 1 + strspn(p + 1, "0123456789");
    return *p == '\0';
}

int http_head_host_ok(const struct http_head *h)
{
    int n = 0;
    const char *v = NULL;

    for (int i = 0; i < h->nfields; i++)
        if (strcasecmp(h->fields[i].name, "Host") == 0) {
            v = h->fields[i].value;
            n++;
        }
    if (n == 0)
        return h->minor == 0;
    return n == 1 && host_value_ok(v);
}

const char *http_head_get(const struct http_head *h, const char *name)
{
    return h1f_get(h->fields, h->nfields, name);
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

int http_head_keepalive(const struct http_head *h)
{
    const char *c = http_head_get(h, "Connection");
    if (h->minor >= 1)
        return c == NULL || !h1f_list_has(c, "close");
    return c != NULL && h1f_list_has(c, "keep-alive");
}

int http_head_body(const struct http_head *h, enum http_body *kind,
                   uint64_t *length)
{
    int nte = 0;
    const char *te = NULL;
    *kind = HTTP_BODY_NONE;
    *length = 0;
    int ncl = h1f_content_length(h->fields, h->nfields, length);
    if (ncl < 0)
        return -400;
    for (int i = 0; i < h->nfields; i++) {
        if (strcasecmp(h->fields[i].name, "Transfer-Encoding") == 0) {
            te = h->fields[i].value;
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
